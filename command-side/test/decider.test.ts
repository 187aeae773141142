// Given / when / then over the ledger deciders: every rule of the books as a
// pure function of past events and a command, including every rejection:
// an account closes only at a zero balance over every listed period, a period
// only once it has ended (the clock is an input), a reversal never before its
// entry, and a period is listed once.
import { describe, expect, it } from "vitest";
import type { CurrencyCode, LedgerEvent } from "@trueup/contracts";
import * as d from "../src/ledger/decider.ts";

const EUR = "EUR" as CurrencyCode;
const USD = "USD" as CurrencyCode;

function given<S>(initial: () => S, evolve: (s: S, e: LedgerEvent) => S, events: LedgerEvent[]): S {
  return events.reduce(evolve, initial());
}

const created: LedgerEvent = { type: "LedgerCreated", data: { ledgerId: "L1", name: "Books", baseCurrency: "EUR" } };
const opened = (code: string, currency: string | null = null): LedgerEvent => ({
  type: "AccountOpened",
  data: { ledgerId: "L1", code, name: code, type: "asset", currency },
});
const ledgerWith = (...events: LedgerEvent[]) => given(d.initialLedgerState, d.evolveLedger, [created, ...events]);

const line = (accountCode: string, side: "debit" | "credit", amountMinor: bigint, currency = EUR) => ({ accountCode, side, amountMinor, currency });
const entry = (lines: ReturnType<typeof line>[], effectiveDate = "2026-03-15"): d.PostEntryData => ({
  entryId: "E1",
  effectiveDate,
  description: "test",
  externalReference: null,
  metadata: {},
  lines,
  reverses: null,
});

const noBalance: d.AccountBalance = { periods: new Set(), totals: [] };
const posted = (lines: { accountCode: string; side: "debit" | "credit"; amountMinor: string; currency?: string }[], entryId = "E1"): LedgerEvent => ({
  type: "JournalEntryPosted",
  data: { ledgerId: "L1", entryId, effectiveDate: "2026-03-15", description: "x", externalReference: null, metadata: {}, lines: lines.map((l) => ({ currency: "EUR", ...l })), reverses: null },
});
const listed = (period: string): LedgerEvent => ({ type: "PeriodListed", data: { ledgerId: "L1", period } });
/** What the service reads from the log for a close: the account's totals over the given periods' events. */
function balanceOf(code: string, periods: Record<string, LedgerEvent[]>): d.AccountBalance {
  const totals = new Map<string, { debitMinor: bigint; creditMinor: bigint }>();
  for (const events of Object.values(periods)) d.addAccountTotals(totals, events, code);
  return { periods: new Set(Object.keys(periods)), totals: [...totals].map(([currency, t]) => ({ currency, ...t })) };
}

function rejectedCode(decision: d.Decision): string | undefined {
  return "rejected" in decision ? decision.rejected.code : undefined;
}

describe("ledger stream", () => {
  it("creates a ledger once", () => {
    const command: d.LedgerCommand = { type: "CreateLedger", data: { ledgerId: "L1", name: "Books", baseCurrency: "EUR" } };
    expect(d.decideLedger(command, d.initialLedgerState())).toEqual({ events: [created] });
    expect(rejectedCode(d.decideLedger(command, ledgerWith()))).toBe("LEDGER_ALREADY_EXISTS");
  });

  it("opens accounts with unique codes, and only in an existing ledger", () => {
    const open: d.LedgerCommand = { type: "OpenAccount", data: { code: "1000", name: "Cash", type: "asset", currency: null } };
    expect(d.decideLedger(open, ledgerWith())).toEqual({ events: [{ type: "AccountOpened", data: { ledgerId: "L1", code: "1000", name: "Cash", type: "asset", currency: null } }] });
    expect(rejectedCode(d.decideLedger(open, ledgerWith(opened("1000"))))).toBe("ACCOUNT_ALREADY_EXISTS");
    expect(rejectedCode(d.decideLedger(open, d.initialLedgerState()))).toBe("LEDGER_NOT_FOUND");
  });

  it("closes an open account once; an unknown account cannot be closed", () => {
    const close: d.LedgerCommand = { type: "CloseAccount", data: { code: "1000" }, balance: noBalance };
    expect(d.decideLedger(close, ledgerWith(opened("1000")))).toEqual({ events: [{ type: "AccountClosed", data: { ledgerId: "L1", code: "1000" } }] });
    expect(rejectedCode(d.decideLedger(close, ledgerWith(opened("1000"), { type: "AccountClosed", data: { ledgerId: "L1", code: "1000" } })))).toBe("ACCOUNT_ALREADY_CLOSED");
    expect(rejectedCode(d.decideLedger(close, ledgerWith()))).toBe("ACCOUNT_NOT_FOUND");
  });

  it("refuses to close an account whose balance over the listed periods is not zero, in any currency", () => {
    const ledger = ledgerWith(opened("1000"), opened("2000"), listed("2026-03"), listed("2026-04"));
    const close = (balance: d.AccountBalance): d.LedgerCommand => ({ type: "CloseAccount", data: { code: "1000" }, balance });
    const march = [posted([{ accountCode: "1000", side: "debit", amountMinor: "500" }, { accountCode: "2000", side: "credit", amountMinor: "500" }])];
    const aprilSettles = [posted([{ accountCode: "2000", side: "debit", amountMinor: "500" }, { accountCode: "1000", side: "credit", amountMinor: "500" }], "E2")];
    const aprilUsd = [posted([{ accountCode: "1000", side: "debit", amountMinor: "7", currency: "USD" }, { accountCode: "2000", side: "credit", amountMinor: "7", currency: "USD" }], "E3")];

    const open = d.decideLedger(close(balanceOf("1000", { "2026-03": march, "2026-04": [] })), ledger);
    expect(rejectedCode(open)).toBe("ACCOUNT_BALANCE_NOT_ZERO");
    expect("rejected" in open && open.rejected.detail).toEqual({ balances: [{ currency: "EUR", debitMinor: "500", creditMinor: "0" }] });
    expect(d.decideLedger(close(balanceOf("1000", { "2026-03": march, "2026-04": aprilSettles })), ledger)).toEqual({ events: [{ type: "AccountClosed", data: { ledgerId: "L1", code: "1000" } }] });
    // Zero in EUR is not enough when USD is open.
    expect(rejectedCode(d.decideLedger(close(balanceOf("1000", { "2026-03": march, "2026-04": [...aprilSettles, ...aprilUsd] })), ledger))).toBe("ACCOUNT_BALANCE_NOT_ZERO");
  });

  it("a balance that misses a period the ledger lists is stale: a conflict to read again, never a close", () => {
    const ledger = ledgerWith(opened("1000"), listed("2026-03"), listed("2026-04"));
    const onlyMarch: d.LedgerCommand = { type: "CloseAccount", data: { code: "1000" }, balance: balanceOf("1000", { "2026-03": [] }) };
    expect(rejectedCode(d.decideLedger(onlyMarch, ledger))).toBe("CONCURRENCY_CONFLICT");
  });

  it("lists a period once; in a ledger that does not exist there is nothing to list", () => {
    const list: d.LedgerCommand = { type: "ListPeriod", data: { period: "2026-03" } };
    expect(d.decideLedger(list, ledgerWith())).toEqual({ events: [listed("2026-03")] });
    expect(d.decideLedger(list, ledgerWith(listed("2026-03")))).toEqual({ events: [] });
    expect(rejectedCode(d.decideLedger(list, d.initialLedgerState()))).toBe("LEDGER_NOT_FOUND");
    const state = ledgerWith(listed("2026-03"), listed("2026-05"));
    expect(state.status === "active" && [...state.periods]).toEqual(["2026-03", "2026-05"]);
  });
});

describe("period stream: postings", () => {
  const ledger = ledgerWith(opened("1000"), opened("2000"), opened("3000", "USD"));
  const post = (data: d.PostEntryData, period = d.initialPeriodState()) => d.decidePeriod({ type: "PostJournalEntry", data, ledger }, period);

  it("posts a balanced entry as one event with amounts as minor-unit strings", () => {
    const decision = post(entry([line("1000", "debit", 1230n), line("2000", "credit", 1230n)]));
    expect(decision).toEqual({
      events: [
        {
          type: "JournalEntryPosted",
          data: {
            ledgerId: "L1",
            entryId: "E1",
            effectiveDate: "2026-03-15",
            description: "test",
            externalReference: null,
            metadata: {},
            lines: [
              { accountCode: "1000", side: "debit", amountMinor: "1230", currency: "EUR" },
              { accountCode: "2000", side: "credit", amountMinor: "1230", currency: "EUR" },
            ],
            reverses: null,
          },
        },
      ],
    });
  });

  it("balances per currency, not in total", () => {
    const mixed = entry([line("1000", "debit", 100n), line("2000", "credit", 100n, USD)]);
    const decision = post(mixed);
    expect(rejectedCode(decision)).toBe("LEDGER_UNBALANCED");
    const multi = entry([line("1000", "debit", 100n), line("2000", "credit", 100n), line("1000", "debit", 7n, USD), line("2000", "credit", 7n, USD)]);
    expect(rejectedCode(post(multi))).toBeUndefined();
  });

  it("rejects unknown and closed accounts, and an account's other currency, naming the line", () => {
    const unknown = post(entry([line("9999", "debit", 1n), line("2000", "credit", 1n)]));
    expect(rejectedCode(unknown)).toBe("ACCOUNT_NOT_FOUND");
    expect("rejected" in unknown && unknown.rejected.path).toEqual(["lines", 0, "account"]);
    const closedLedger = ledgerWith(opened("1000"), opened("2000"), { type: "AccountClosed", data: { ledgerId: "L1", code: "2000" } });
    const closed = d.decidePeriod({ type: "PostJournalEntry", data: entry([line("1000", "debit", 1n), line("2000", "credit", 1n)]), ledger: closedLedger }, d.initialPeriodState());
    expect(rejectedCode(closed)).toBe("ACCOUNT_CLOSED");
    expect(rejectedCode(post(entry([line("3000", "debit", 1n), line("2000", "credit", 1n)])))).toBe("ACCOUNT_CURRENCY_MISMATCH");
  });

  it("rejects postings into a closed period, accepts them again after a reopen", () => {
    const closed = given(d.initialPeriodState, d.evolvePeriod, [{ type: "PeriodClosed", data: { ledgerId: "L1", period: "2026-03" } }]);
    const balanced = entry([line("1000", "debit", 5n), line("2000", "credit", 5n)]);
    expect(rejectedCode(post(balanced, closed))).toBe("PERIOD_CLOSED");
    const reopened = d.evolvePeriod(closed, { type: "PeriodReopened", data: { ledgerId: "L1", period: "2026-03", reason: "late invoice" } });
    expect(rejectedCode(post(balanced, reopened))).toBeUndefined();
  });

  it("rejects everything in a ledger that does not exist", () => {
    const decision = d.decidePeriod({ type: "ClosePeriod", data: { period: "2026-03" }, ledger: d.initialLedgerState(), now: new Date("2026-05-01T00:00:00Z") }, d.initialPeriodState());
    expect(rejectedCode(decision)).toBe("LEDGER_NOT_FOUND");
  });
});

describe("period stream: close and reopen", () => {
  const ledger = ledgerWith();
  it("closes an open period once and reopens only a closed one", () => {
    const close: d.PeriodCommand = { type: "ClosePeriod", data: { period: "2026-03" }, ledger, now: new Date("2026-04-01T00:00:00Z") };
    const reopen: d.PeriodCommand = { type: "ReopenPeriod", data: { period: "2026-03", reason: "audit adjustment" }, ledger };
    expect(d.decidePeriod(close, d.initialPeriodState())).toEqual({ events: [{ type: "PeriodClosed", data: { ledgerId: "L1", period: "2026-03" } }] });
    expect(rejectedCode(d.decidePeriod(close, { status: "closed" }))).toBe("PERIOD_ALREADY_CLOSED");
    expect(rejectedCode(d.decidePeriod(reopen, d.initialPeriodState()))).toBe("PERIOD_NOT_CLOSED");
    expect(d.decidePeriod(reopen, { status: "closed" })).toEqual({ events: [{ type: "PeriodReopened", data: { ledgerId: "L1", period: "2026-03", reason: "audit adjustment" } }] });
  });

  it("closes a period only once it has ended: from 00:00 UTC on the next month's first day", () => {
    const closeAt = (period: string, now: string) => d.decidePeriod({ type: "ClosePeriod", data: { period }, ledger, now: new Date(now) }, d.initialPeriodState());
    expect(rejectedCode(closeAt("2026-03", "2026-03-31T23:59:59.999Z"))).toBe("PERIOD_NOT_ENDED");
    expect(rejectedCode(closeAt("2026-03", "2026-03-01T00:00:00Z"))).toBe("PERIOD_NOT_ENDED");
    expect(rejectedCode(closeAt("2026-12", "2026-12-31T12:00:00Z"))).toBe("PERIOD_NOT_ENDED");
    expect(rejectedCode(closeAt("2026-03", "2026-04-01T00:00:00Z"))).toBeUndefined();
    expect(rejectedCode(closeAt("2026-12", "2027-01-01T00:00:00Z"))).toBeUndefined();
    expect(rejectedCode(closeAt("2027-06", "2026-12-01T00:00:00Z"))).toBe("PERIOD_NOT_ENDED");
  });
});

describe("reversal claims", () => {
  const claim = (reversalEntryId: string, reversal = "2026-03-15"): d.ReversalCommand => ({
    type: "ClaimReversal",
    data: { ledgerId: "L1", entryId: "E1", reversalEntryId },
    dates: { entry: "2026-03-15", reversal },
  });
  it("refuses a reversal dated before its entry; the same day or later is fine", () => {
    const early = d.decideReversal(claim("R1", "2026-03-14"), d.initialReversalState());
    expect(rejectedCode(early)).toBe("REVERSAL_BEFORE_ENTRY");
    expect("rejected" in early && early.rejected.path).toEqual(["effectiveDate"]);
    expect(rejectedCode(d.decideReversal(claim("R1", "2025-12-31"), d.initialReversalState()))).toBe("REVERSAL_BEFORE_ENTRY");
    expect(rejectedCode(d.decideReversal(claim("R1", "2026-03-15"), d.initialReversalState()))).toBeUndefined();
    expect(rejectedCode(d.decideReversal(claim("R1", "2027-01-01"), d.initialReversalState()))).toBeUndefined();
  });

  it("lets an entry be reversed once; the same reversal retried changes nothing", () => {
    expect(d.decideReversal(claim("R1"), d.initialReversalState())).toEqual({ events: [{ type: "ReversalClaimed", data: { ledgerId: "L1", entryId: "E1", reversalEntryId: "R1" } }] });
    const claimed: d.ReversalState = { status: "claimed", reversalEntryId: "R1" };
    expect(d.decideReversal(claim("R1"), claimed)).toEqual({ events: [] });
    expect(rejectedCode(d.decideReversal(claim("R2"), claimed))).toBe("ENTRY_ALREADY_REVERSED");
  });

  it("a released claim can be claimed again", () => {
    const released = given(d.initialReversalState, d.evolveReversal, [
      { type: "ReversalClaimed", data: { ledgerId: "L1", entryId: "E1", reversalEntryId: "R1" } },
      { type: "ReversalReleased", data: { ledgerId: "L1", entryId: "E1", reversalEntryId: "R1", reason: "PERIOD_CLOSED" } },
    ]);
    expect(rejectedCode(d.decideReversal(claim("R2"), released))).toBeUndefined();
  });

  it("swaps every side of the original's lines", () => {
    expect(d.reversedLines([{ accountCode: "1000", side: "debit", amountMinor: "5", currency: "EUR" }, { accountCode: "2000", side: "credit", amountMinor: "5", currency: "EUR" }])).toEqual([
      { accountCode: "1000", side: "credit", amountMinor: 5n, currency: "EUR" },
      { accountCode: "2000", side: "debit", amountMinor: 5n, currency: "EUR" },
    ]);
  });
});
