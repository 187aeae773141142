// The ledger's deciders: plain functions, no I/O, no clock (the time a
// command was first seen is passed in). Three streams, three small state
// machines:
//   ledger-<L>            accounts (codes unique by construction), and the
//                         periods that have entries

//   period-<L>:<YYYY-MM>  journal entries of the period + its close/reopen
//   reversal-<L>:<entry>  the one reversal an entry may have
import assert from "node:assert/strict";
import { TrueupError, periodEnd, periodOf } from "@trueup/contracts";
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
  | {
      readonly status: "active";
      readonly ledgerId: string;
      readonly baseCurrency: string;
      readonly accounts: ReadonlyMap<string, AccountState>;
      /** Periods with entries (PeriodListed): the period streams an account's balance is read from. */
      readonly periods: ReadonlySet<string>;
    };

export const initialLedgerState = (): LedgerState => ({ status: "none" });

export function evolveLedger(state: LedgerState, event: LedgerEvent): LedgerState {
  switch (event.type) {
    case "LedgerCreated":
      return { status: "active", ledgerId: event.data.ledgerId, baseCurrency: event.data.baseCurrency, accounts: new Map(), periods: new Set() };
    case "PeriodListed":
      assert.ok(state.status === "active", "PeriodListed before LedgerCreated");
      return { ...state, periods: new Set(state.periods).add(event.data.period) };
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
  /** `balance`: the account's totals over `balance.periods`, read from those period streams (see accountTotals). */
  | { readonly type: "CloseAccount"; readonly data: { code: string }; readonly balance: AccountBalance }
  /** Before a period's first posting: list it, once. */
  | { readonly type: "ListPeriod"; readonly data: { period: string } };

/** An account's debit and credit totals per currency over the entries of some periods. */
export interface AccountBalance {
  readonly periods: ReadonlySet<string>;
  readonly totals: readonly CurrencyTotals[];
}

export interface CurrencyTotals {
  readonly currency: string;
  readonly debitMinor: bigint;
  readonly creditMinor: bigint;
}

/** Folds one account's lines of a period's events into running totals per currency. */
export function addAccountTotals(totals: Map<string, { debitMinor: bigint; creditMinor: bigint }>, events: readonly LedgerEvent[], code: string): void {
  for (const event of events) {
    if (event.type !== "JournalEntryPosted") continue;
    for (const line of event.data.lines) {
      if (line.accountCode === code) addToTotals(totals, { side: line.side, amountMinor: BigInt(line.amountMinor), currency: line.currency });
    }
  }
}

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
      return decideAccountClose(command.data.code, command.balance, state);
    }
    case "ListPeriod":
      if (state.status !== "active") return reject("LEDGER_NOT_FOUND", "no such ledger");
      if (state.periods.has(command.data.period)) return { events: [] };
      return { events: [{ type: "PeriodListed", data: { ledgerId: state.ledgerId, period: command.data.period } }] };
    default:
      return exhaustive(command);
  }
}

/**
 * An account closes only at a zero balance in every currency. The balance
 * must cover every period the ledger lists now: a period listed after the
 * balance was read (a posting into a new period, in flight) makes it stale,
 * a CONCURRENCY_CONFLICT the service answers by reading the balance again.
 */
function decideAccountClose(code: string, balance: AccountBalance, state: LedgerState & { status: "active" }): Decision {
  const unread = [...state.periods].filter((p) => !balance.periods.has(p));
  if (unread.length > 0) return reject("CONCURRENCY_CONFLICT", `period ${unread.join(", ")} got its first entry while the close was decided; retry`);
  const open = balance.totals.filter((t) => t.debitMinor !== t.creditMinor);
  if (open.length > 0) {
    const shown = open.map((t) => `${t.currency}: debits ${t.debitMinor} − credits ${t.creditMinor} = ${t.debitMinor - t.creditMinor} (minor units)`).join("; ");
    return {
      rejected: new TrueupError("ACCOUNT_BALANCE_NOT_ZERO", `account ${code} has a balance (${shown}); post entries that bring it to zero first`, {
        detail: { balances: open.map((t) => ({ currency: t.currency, debitMinor: t.debitMinor.toString(), creditMinor: t.creditMinor.toString() })) },
      }),
    };
  }
  return { events: [{ type: "AccountClosed", data: { ledgerId: state.ledgerId, code } }] };
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
  /** `now`: when the close was first asked for (a retry keeps it), so the answer does not change with the retry. */
  | { readonly type: "ClosePeriod"; readonly data: { period: string }; readonly ledger: LedgerState; readonly now: Date }
  | { readonly type: "ReopenPeriod"; readonly data: { period: string; reason: string }; readonly ledger: LedgerState };

export function decidePeriod(command: PeriodCommand, state: PeriodState): Decision {
  const ledger = command.ledger;
  if (ledger.status !== "active") return reject("LEDGER_NOT_FOUND", "no such ledger");
  switch (command.type) {
    case "PostJournalEntry":
      return decidePosting(command.data, ledger.accounts, ledger.ledgerId, state);
    case "ClosePeriod":
      if (state.status === "closed") return reject("PERIOD_ALREADY_CLOSED", `period ${command.data.period} is already closed`);
      if (command.now < periodEnd(command.data.period)) {
        return reject("PERIOD_NOT_ENDED", `period ${command.data.period} ends at ${periodEnd(command.data.period).toISOString()}; it cannot be closed before then`);
      }
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

/** Adds one line to debit and credit totals per currency. */
function addToTotals(totals: Map<string, { debitMinor: bigint; creditMinor: bigint }>, line: { side: Side; amountMinor: bigint; currency: string }): void {
  const total = totals.get(line.currency) ?? { debitMinor: 0n, creditMinor: 0n };
  if (line.side === "debit") total.debitMinor += line.amountMinor;
  else total.creditMinor += line.amountMinor;
  totals.set(line.currency, total);
}

export function unbalancedCurrencies(lines: readonly { side: Side; amountMinor: bigint; currency: string }[]): { currency: string; debitMinor: bigint; creditMinor: bigint }[] {
  const totals = new Map<string, { debitMinor: bigint; creditMinor: bigint }>();
  for (const line of lines) addToTotals(totals, line);
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
  /** `dates`: the effective dates of the entry (from its event in the log) and of its reversal. */
  | { readonly type: "ClaimReversal"; readonly data: { ledgerId: string; entryId: string; reversalEntryId: string }; readonly dates: { entry: string; reversal: string } }
  | { readonly type: "ReleaseReversal"; readonly data: { ledgerId: string; entryId: string; reversalEntryId: string; reason: string } };

export function decideReversal(command: ReversalCommand, state: ReversalState): Decision {
  switch (command.type) {
    case "ClaimReversal":
      // Dates are fixed-width YYYY-MM-DD: text order is date order.
      if (command.dates.reversal < command.dates.entry) {
        return reject("REVERSAL_BEFORE_ENTRY", `entry ${command.data.entryId} is dated ${command.dates.entry}; its reversal cannot be dated ${command.dates.reversal}`, ["effectiveDate"]);
      }
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
