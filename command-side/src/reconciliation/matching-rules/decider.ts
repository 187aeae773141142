// A bank account's matching rules: one stream per account,
// `matchingrules-<bankAccountId>`, one MatchingRulesSet per version. Setting
// rules appends the next version at the stream's expected revision, so two
// changes at once are serialized: each lands as its own version, and a
// change that named the version it was edited from (`expectedVersion`) is
// refused if another landed first. Pure: the bank account and its ledger
// are read by the service and passed in.
import { TrueupError, jsonValueOf, parseReconciliationEvent } from "@trueup/contracts";
import type { JsonValue, MatchingRules } from "@trueup/contracts";
import type { Decision as GenericDecision } from "../../decision.ts";
import type { LedgerState } from "../../ledger/decider.ts";
import type { BankAccountState } from "../bank-accounts/index.ts";

export type MatchingRulesEvent =
  | { readonly type: "MatchingRulesSet"; readonly data: { readonly bankAccountId: string; readonly ledgerId: string; readonly version: number; readonly rules: JsonValue } }
  | { readonly type: "Unrelated"; readonly data: { readonly type: string } };
export type Decision = GenericDecision<MatchingRulesEvent>;

/** The version the stream is at: 0 before the first rules are set. */
export interface MatchingRulesState {
  readonly version: number;
}

export const initialMatchingRulesState = (): MatchingRulesState => ({ version: 0 });

export function evolveMatchingRules(state: MatchingRulesState, event: MatchingRulesEvent): MatchingRulesState {
  return event.type === "MatchingRulesSet" ? { version: event.data.version } : state;
}

export interface SetMatchingRules {
  readonly type: "SetMatchingRules";
  readonly data: { readonly bankAccountId: string; readonly rules: MatchingRules; readonly expectedVersion: number | undefined };
  /** The active bank account (registered and listed), or undefined. */
  readonly account: BankAccountState | undefined;
  /** The bank account's ledger, for the write-off account. */
  readonly ledger: LedgerState;
}

export function decideMatchingRules(command: SetMatchingRules, state: MatchingRulesState): Decision {
  const { bankAccountId, rules, expectedVersion } = command.data;
  const account = command.account;
  if (account === undefined) return { rejected: new TrueupError("BANK_ACCOUNT_NOT_FOUND", `no bank account ${bankAccountId}`) };
  if (expectedVersion !== undefined && expectedVersion !== state.version) {
    return {
      rejected: new TrueupError("MATCHING_RULES_VERSION_CONFLICT", `bank account ${bankAccountId}'s matching rules are at version ${state.version}, not ${expectedVersion}`, {
        path: ["expectedVersion"],
        detail: { expectedVersion, version: state.version },
      }),
    };
  }
  const writeOff = writeOffAccountProblem(command.ledger, account, rules.writeOffAccount);
  if (writeOff !== undefined) return { rejected: writeOff };
  return { events: [{ type: "MatchingRulesSet", data: { bankAccountId, ledgerId: account.ledgerId, version: state.version + 1, rules: jsonValueOf(rules) } }] };
}

/**
 * Why the rules cannot write differences off to `code`: it must be an open
 * account of the bank account's ledger that takes the bank account's
 * currency, and not the bank account's own ledger account (a write-off there
 * would leave the difference where it is).
 */
export function writeOffAccountProblem(ledger: LedgerState, account: BankAccountState, code: string | null, path: readonly string[] = ["rules", "writeOffAccount"]): TrueupError | undefined {
  if (code === null) return undefined;
  if (ledger.status !== "active") return new TrueupError("LEDGER_NOT_FOUND", `no ledger ${account.ledgerId}`);
  const found = ledger.accounts.get(code);
  if (found === undefined) return new TrueupError("ACCOUNT_NOT_FOUND", `no account ${code} in ledger ${account.ledgerId}`, { path: [...path] });
  if (found.status === "closed") return new TrueupError("ACCOUNT_CLOSED", `account ${code} of ledger ${account.ledgerId} is closed`, { path: [...path] });
  if (found.currency !== null && found.currency !== account.currency) {
    return new TrueupError("ACCOUNT_CURRENCY_MISMATCH", `account ${code} takes only ${found.currency}; the bank account is in ${account.currency}`, { path: [...path] });
  }
  if (code === account.ledgerAccount) {
    return new TrueupError("VALIDATION_FAILED", `account ${code} is the bank account's own ledger account: a write-off needs another account (fees, rounding)`, { path: [...path] });
  }
  return undefined;
}

/** Parses a stored event of a rules stream (through the context's upcasters). */
export function parseMatchingRulesEvent(stored: Parameters<typeof parseReconciliationEvent>[0]): MatchingRulesEvent {
  const event = parseReconciliationEvent(stored);
  if (event.type !== "MatchingRulesSet") return { type: "Unrelated", data: { type: event.type } };
  return { type: "MatchingRulesSet", data: { ...event.data, rules: jsonValueOf(event.data.rules) } };
}
