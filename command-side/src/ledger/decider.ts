// The ledger's deciders: plain functions, no I/O, no clock. Three streams,
// three small state machines:
//   ledger-<L>            accounts (codes unique by construction)
//   period-<L>:<YYYY-MM>  journal entries of the period + its close/reopen
//   reversal-<L>:<entry>  the one reversal an entry may have
import assert from "node:assert/strict";
import { TrueupError, periodOf } from "@trueup/contracts";
import type { AccountType, JournalLine, JournalLineInput, LedgerEvent, Side } from "@trueup/contracts";
import type { Decision as GenericDecision } from "../decision.ts";

export type Decision = GenericDecision<LedgerEvent>;

const reject = (code: ConstructorParameters<typeof TrueupError>[0], message: string, path?: (string | number)[]): Decision => ({
  rejected: new TrueupError(code, message, path === undefined ? {} : { path }),
});

// --- ledger stream ----------------------------------------------------------

export interface AccountState {
  readonly type: AccountType;
  readonly currency: string | null;
  readonly status: "open" | "closed";
}

export type LedgerState =
  | { readonly status: "none" }
  | { readonly status: "active"; readonly ledgerId: string; readonly baseCurrency: string; readonly accounts: ReadonlyMap<string, AccountState> };

export const initialLedgerState = (): LedgerState => ({ status: "none" });

export function evolveLedger(state: LedgerState, event: LedgerEvent): LedgerState {
  switch (event.type) {
    case "LedgerCreated":
      return { status: "active", ledgerId: event.data.ledgerId, baseCurrency: event.data.baseCurrency, accounts: new Map() };
    case "AccountOpened":
    case "AccountClosed": {
      assert.ok(state.status === "active", `${event.type} before LedgerCreated`);
      const accounts = new Map(state.accounts);
      if (event.type === "AccountOpened") {
        accounts.set(event.data.code, { type: event.data.type, currency: event.data.currency, status: "open" });
      } else {
        const account = accounts.get(event.data.code);
        assert.ok(account !== undefined, `AccountClosed for unknown account ${event.data.code}`);
        accounts.set(event.data.code, { ...account, status: "closed" });
      }
      return { ...state, accounts };
    }
    default:
      return state;
  }
}

export type LedgerCommand =
  | { readonly type: "CreateLedger"; readonly data: { ledgerId: string; name: string; baseCurrency: string } }
  | { readonly type: "OpenAccount"; readonly data: { code: string; name: string; type: AccountType; currency: string | null } }
  | { readonly type: "CloseAccount"; readonly data: { code: string } };

export function decideLedger(command: LedgerCommand, state: LedgerState): Decision {
  switch (command.type) {
    case "CreateLedger":
      if (state.status !== "none") return reject("LEDGER_ALREADY_EXISTS", `ledger ${command.data.ledgerId} exists`, ["ledgerId"]);
      return { events: [{ type: "LedgerCreated", data: command.data }] };
    case "OpenAccount": {
      if (state.status !== "active") return reject("LEDGER_NOT_FOUND", "no such ledger");
      if (state.accounts.has(command.data.code)) return reject("ACCOUNT_ALREADY_EXISTS", `account ${command.data.code} exists`, ["code"]);
      return { events: [{ type: "AccountOpened", data: { ledgerId: state.ledgerId, ...command.data } }] };
    }
    case "CloseAccount": {
      if (state.status !== "active") return reject("LEDGER_NOT_FOUND", "no such ledger");
      const account = state.accounts.get(command.data.code);
      if (account === undefined) return reject("ACCOUNT_NOT_FOUND", `no account ${command.data.code}`);
      if (account.status === "closed") return reject("ACCOUNT_ALREADY_CLOSED", `account ${command.data.code} is already closed`);
      return { events: [{ type: "AccountClosed", data: { ledgerId: state.ledgerId, code: command.data.code } }] };
    }
    default:
      return exhaustive(command);
  }
}

// --- period stream ----------------------------------------------------------

export interface PeriodState {
  readonly status: "open" | "closed";
}

export const initialPeriodState = (): PeriodState => ({ status: "open" });

export function evolvePeriod(state: PeriodState, event: LedgerEvent): PeriodState {
  switch (event.type) {
    case "PeriodClosed":
      return { status: "closed" };
    case "PeriodReopened":
      return { status: "open" };
    default:
      return state;
  }
}

export interface PostEntryData {
  readonly entryId: string;
  readonly effectiveDate: string;
  readonly description: string;
  readonly externalReference: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly lines: readonly JournalLineInput[];
  readonly reverses: string | null;
}

export type PeriodCommand =
  | { readonly type: "PostJournalEntry"; readonly data: PostEntryData; readonly ledger: LedgerState }
  | { readonly type: "ClosePeriod"; readonly data: { period: string }; readonly ledger: LedgerState }
  | { readonly type: "ReopenPeriod"; readonly data: { period: string; reason: string }; readonly ledger: LedgerState };

export function decidePeriod(command: PeriodCommand, state: PeriodState): Decision {
  const ledger = command.ledger;
  if (ledger.status !== "active") return reject("LEDGER_NOT_FOUND", "no such ledger");
  switch (command.type) {
    case "PostJournalEntry":
      return decidePosting(command.data, ledger.accounts, ledger.ledgerId, state);
    case "ClosePeriod":
      if (state.status === "closed") return reject("PERIOD_ALREADY_CLOSED", `period ${command.data.period} is already closed`);
      return { events: [{ type: "PeriodClosed", data: { ledgerId: ledger.ledgerId, period: command.data.period } }] };
    case "ReopenPeriod":
      if (state.status === "open") return reject("PERIOD_NOT_CLOSED", `period ${command.data.period} is not closed`);
      return { events: [{ type: "PeriodReopened", data: { ledgerId: ledger.ledgerId, ...command.data } }] };
    default:
      return exhaustive(command);
  }
}

function decidePosting(data: PostEntryData, accounts: ReadonlyMap<string, AccountState>, ledgerId: string, period: PeriodState): Decision {
  if (period.status === "closed") {
    return reject("PERIOD_CLOSED", `period ${periodOf(data.effectiveDate)} is closed`, ["effectiveDate"]);
  }
  for (const [index, line] of data.lines.entries()) {
    const account = accounts.get(line.accountCode);
    if (account === undefined) return reject("ACCOUNT_NOT_FOUND", `no account ${line.accountCode}`, ["lines", index, "account"]);
    if (account.status === "closed") return reject("ACCOUNT_CLOSED", `account ${line.accountCode} is closed`, ["lines", index, "account"]);
    if (account.currency !== null && account.currency !== line.currency) {
      return reject("ACCOUNT_CURRENCY_MISMATCH", `account ${line.accountCode} takes only ${account.currency}`, ["lines", index, "currency"]);
    }
  }
  const unbalanced = unbalancedCurrencies(data.lines);
  if (unbalanced.length > 0) {
    const detail = unbalanced.map((u) => `${u.currency}: debits ${u.debitMinor} ≠ credits ${u.creditMinor} (minor units)`).join("; ");
    return { rejected: new TrueupError("LEDGER_UNBALANCED", `entry does not balance: ${detail}`, { path: ["lines"], detail: { unbalanced: unbalanced.map((u) => ({ currency: u.currency, debitMinor: u.debitMinor.toString(), creditMinor: u.creditMinor.toString() })) } }) };
  }
  const lines: JournalLine[] = data.lines.map((l) => ({ accountCode: l.accountCode, side: l.side, amountMinor: l.amountMinor.toString(), currency: l.currency }));
  return {
    events: [
      {
        type: "JournalEntryPosted",
        data: {
          ledgerId,
          entryId: data.entryId,
          effectiveDate: data.effectiveDate,
          description: data.description,
          externalReference: data.externalReference,
          metadata: { ...data.metadata },
          lines,
          reverses: data.reverses,
        },
      },
    ],
  };
}

export function unbalancedCurrencies(lines: readonly { side: Side; amountMinor: bigint; currency: string }[]): { currency: string; debitMinor: bigint; creditMinor: bigint }[] {
  const totals = new Map<string, { debitMinor: bigint; creditMinor: bigint }>();
  for (const line of lines) {
    const total = totals.get(line.currency) ?? { debitMinor: 0n, creditMinor: 0n };
    if (line.side === "debit") total.debitMinor += line.amountMinor;
    else total.creditMinor += line.amountMinor;
    totals.set(line.currency, total);
  }
  return [...totals].filter(([, t]) => t.debitMinor !== t.creditMinor).map(([currency, t]) => ({ currency, ...t }));
}

/** The lines of a reversal: the original's lines with sides swapped. */
export function reversedLines(lines: readonly JournalLine[]): JournalLineInput[] {
  return lines.map((l) => ({
    accountCode: l.accountCode,
    side: l.side === "debit" ? "credit" : "debit",
    amountMinor: BigInt(l.amountMinor),
    currency: l.currency as JournalLineInput["currency"],
  }));
}

// --- reversal claim stream ---------------------------------------------------

export type ReversalState = { readonly status: "unclaimed" } | { readonly status: "claimed"; readonly reversalEntryId: string };

export const initialReversalState = (): ReversalState => ({ status: "unclaimed" });

export function evolveReversal(state: ReversalState, event: LedgerEvent): ReversalState {
  switch (event.type) {
    case "ReversalClaimed":
      return { status: "claimed", reversalEntryId: event.data.reversalEntryId };
    case "ReversalReleased":
      return { status: "unclaimed" };
    default:
      return state;
  }
}

export type ReversalCommand =
  | { readonly type: "ClaimReversal"; readonly data: { ledgerId: string; entryId: string; reversalEntryId: string } }
  | { readonly type: "ReleaseReversal"; readonly data: { ledgerId: string; entryId: string; reversalEntryId: string; reason: string } };

export function decideReversal(command: ReversalCommand, state: ReversalState): Decision {
  switch (command.type) {
    case "ClaimReversal":
      if (state.status === "claimed") {
        // The same reversal retried: already claimed by it, nothing to add.
        if (state.reversalEntryId === command.data.reversalEntryId) return { events: [] };
        return reject("ENTRY_ALREADY_REVERSED", `entry ${command.data.entryId} was reversed by ${state.reversalEntryId}`);
      }
      return { events: [{ type: "ReversalClaimed", data: command.data }] };
    case "ReleaseReversal":
      if (state.status !== "claimed" || state.reversalEntryId !== command.data.reversalEntryId) return { events: [] };
      return { events: [{ type: "ReversalReleased", data: command.data }] };
    default:
      return exhaustive(command);
  }
}

function exhaustive(value: never): never {
  throw new Error(`unhandled command ${JSON.stringify(value)}`);
}
