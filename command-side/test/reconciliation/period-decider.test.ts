// Proves the period sign-off decider, given recon events, when ClosePeriod,
// then a refusal or ReconciliationPeriodClosed: a month not ended, or
// already signed off, is refused; an open item, a suggestion, or a
// write-off not posted blocks it, counted by reason; a statement with a
// difference is refused with it; a cross-month match is an outstanding
// item of a balanced statement; and once closed, an unmatch of a match with
// an item dated in the period is refused while a later one is not.
import { describe, expect, it } from "vitest";
import * as decider from "../../src/reconciliation/matches/decider.ts";
import type { MatchEvent, ReconState, RunProposal } from "../../src/reconciliation/matches/decider.ts";
import { decideClosePeriod } from "../../src/reconciliation/periods/decider.ts";
import type { ClosePeriod, PeriodItem } from "../../src/reconciliation/periods/decider.ts";

const BA = "ba1";
const ACCOUNT = { ledgerId: "L1", ledgerAccount: "1000" };
const proposal = (matchId: string, externalIds: string[], internalIds: string[], autoConfirm: boolean): RunProposal => ({
  matchId, kind: "1:1", externalIds, internalIds, currency: "EUR", ruleId: "ref", score: 95, criteria: [], differenceMinor: "0", writeOff: null, residual: null, ambiguous: false, autoConfirm,
});
const fold = (state: ReconState, events: readonly MatchEvent[]) => events.reduce(decider.evolveRecon, state);
const eventsOf = (d: decider.Decision): MatchEvent[] => {
  if (!("events" in d)) throw new Error(`rejected: ${d.rejected.code}`);
  return d.events;
};
const propose = (state: ReconState, ...proposals: RunProposal[]) =>
  fold(state, eventsOf(decider.decideProposals({ type: "ProposeMatches", data: { bankAccountId: BA, runId: "r", proposals, account: ACCOUNT, today: "2026-05-01" } }, state)));

const ITEMS: PeriodItem[] = [
  { side: "external", id: "x1", date: "2026-03-02", amountMinor: 10_000n, description: "in" },
  { side: "internal", id: "i1:0", date: "2026-03-02", amountMinor: 10_000n, description: "sale" },
  { side: "internal", id: "c1:1", date: "2026-03-28", amountMinor: -4_000n, description: "cheque" },
  { side: "external", id: "x2", date: "2026-04-02", amountMinor: -4_000n, description: "cheque cleared" },
];

function close(state: ReconState, overrides: Partial<ClosePeriod["data"]> = {}) {
  return decideClosePeriod({
    type: "ClosePeriod",
    data: {
      bankAccountId: BA, bankAccountName: "Main", currency: "EUR", account: ACCOUNT, period: "2026-03", periodEnd: "2026-03-31", today: "2026-05-01",
      // Bank at March end: 100.00 in; books: 100.00 in, 40.00 cheque out (cleared in April).
      bankBalance: { amountMinor: 10_000n, date: "2026-03-31", source: "statement s1" }, bookBalanceMinor: 6_000n, items: ITEMS, ...overrides,
    },
  }, state);
}
const code = (d: decider.Decision) => ("rejected" in d ? d.rejected.code : undefined);

describe("the period sign-off decider", () => {
  const matched = propose(decider.initialReconState(), proposal("m1", ["x1"], ["i1:0"], true), proposal("m2", ["x2"], ["c1:1"], true));

  it("refuses a month not ended, and blocks on open and suggested items, counted by reason", () => {
    expect(code(close(matched, { today: "2026-03-31" }))).toBe("RECONCILIATION_PERIOD_NOT_ENDED");
    const none = close(decider.initialReconState());
    expect("rejected" in none && none.rejected.detail).toMatchObject({ byReason: { open: 3 } });
    const suggested = propose(decider.initialReconState(), proposal("m1", ["x1"], ["i1:0"], false), proposal("m2", ["x2"], ["c1:1"], true));
    const blocked = close(suggested);
    expect("rejected" in blocked && blocked.rejected.detail).toMatchObject({ byReason: { suggested: 2 } });
  });

  it("blocks on a write-off requested but not posted yet, and on one the ledger refused", () => {
    const withWriteOff = { ...proposal("m1", ["x1"], ["i1:0"], true), differenceMinor: "-50", writeOff: { amountMinor: "-50", ledgerAccount: "6800", date: "2026-03-02" } };
    const state = propose(decider.initialReconState(), withWriteOff, proposal("m2", ["x2"], ["c1:1"], true));
    const pending = close(state);
    expect("rejected" in pending && pending.rejected.detail).toMatchObject({ byReason: { "write-off pending": 2 } });
    const refused = fold(state, [{ type: "WriteOffRefused", data: { bankAccountId: BA, matchId: "m1", code: "PERIOD_CLOSED", message: "closed" } }]);
    expect("rejected" in close(refused) && (close(refused) as { rejected: { detail: unknown } }).rejected.detail).toMatchObject({ byReason: { "write-off refused": 2 } });
  });

  it("unmatching a match with a posted write-off requests its reversal, and the month waits for it", () => {
    const withWriteOff = { ...proposal("m1", ["x1"], ["i1:0"], true), differenceMinor: "-50", writeOff: { amountMinor: "-50", ledgerAccount: "6800", date: "2026-03-02" } };
    let state = propose(decider.initialReconState(), withWriteOff, proposal("m2", ["x2"], ["c1:1"], true));
    const unmatch = (s: ReconState, matchId: string) => decider.decideMatchDecision({ type: "UnmatchMatch", data: { bankAccountId: BA, matchId, reason: "wrong", account: ACCOUNT, today: "2026-05-01" } }, s);
    // Still being posted: refused, nothing known yet about what undoing it takes.
    expect(code(unmatch(state, "m1"))).toBe("MATCH_HAS_WRITE_OFF");
    state = fold(state, [{ type: "WriteOffPosted", data: { bankAccountId: BA, matchId: "m1", ledgerId: "L1", entryId: decider.writeOffEntryId("m1") } }]);
    const events = eventsOf(unmatch(state, "m1"));
    expect(events).toEqual([
      // It names the items it opens again, for their case files.
      { type: "MatchUnmatched", data: { bankAccountId: BA, matchId: "m1", reason: "wrong", externalIds: ["x1"], internalIds: ["i1:0"] } },
      { type: "WriteOffReversalRequested", data: { bankAccountId: BA, matchId: "m1", ledgerId: "L1", entryId: decider.writeOffEntryId("m1"), reversalEntryId: decider.writeOffReversalEntryId("m1"), effectiveDate: "2026-03-02" } },
    ]);
    state = fold(state, events);
    expect(state.matches.get("m1")?.writeOffState).toBe("reversing");
    // Matched again by hand meanwhile, the month still waits for the old write-off to leave the books.
    state = fold(state, eventsOf(decider.decideManualMatch({ type: "ManualMatch", data: { bankAccountId: BA, matchId: "m3", externals: [{ id: "x1", amountMinor: 10_000n, date: "2026-03-02" }], internals: [{ id: "i1:0", amountMinor: 10_000n, date: "2026-03-02" }], currency: "EUR", writeOff: null, reason: null, account: ACCOUNT, today: "2026-05-01" } }, state)));
    const waiting = close(state);
    expect("rejected" in waiting && waiting.rejected.detail).toMatchObject({ byReason: { "write-off reversal pending": 1 } });
    const refused = fold(state, eventsOf(decider.decideRecordWriteOff({ type: "RecordWriteOff", data: { outcome: "reversal-refused", bankAccountId: BA, matchId: "m1", code: "PERIOD_CLOSED", message: "closed" } }, state)));
    expect("rejected" in close(refused) && (close(refused) as { rejected: { detail: unknown } }).rejected.detail).toMatchObject({ byReason: { "write-off reversal refused": 1 } });
    const reversed = fold(state, eventsOf(decider.decideRecordWriteOff({ type: "RecordWriteOff", data: { outcome: "reversed", bankAccountId: BA, matchId: "m1", ledgerId: "L1", reversalEntryId: decider.writeOffReversalEntryId("m1") } }, state)));
    expect(reversed.matches.get("m1")?.writeOffState).toBe("reversed");
    expect(eventsOf(close(reversed))[0]?.type).toBe("ReconciliationPeriodClosed");
  });

  it("closes with the cross-month cheque as an outstanding payment, and refuses a difference", () => {
    const [event] = eventsOf(close(matched));
    expect(event?.type).toBe("ReconciliationPeriodClosed");
    expect(event?.type === "ReconciliationPeriodClosed" && event.data.statement).toMatchObject({
      balanced: true, adjustedBank: "60.00", adjustedBook: "60.00", outstandingPayments: { count: 1, total: "-40.00" }, counts: { cleared: 2 },
    });
    const off = close(matched, { bookBalanceMinor: 6_001n });
    expect(code(off)).toBe("RECONCILIATION_STATEMENT_UNBALANCED");
    expect("rejected" in off && off.rejected.detail).toMatchObject({ difference: "-0.01" });
    expect(code(close(matched, { bankBalance: null }))).toBe("RECONCILIATION_STATEMENT_UNBALANCED");
  });

  it("locks the period's matches once closed, and refuses to close it again", () => {
    const closed = fold(matched, eventsOf(close(matched)));
    expect(closed.closedThrough).toBe("2026-03-31");
    expect(code(close(closed))).toBe("RECONCILIATION_PERIOD_ALREADY_CLOSED");
    const unmatch = (matchId: string, itemDates: string[]) =>
      decider.decideMatchDecision({ type: "UnmatchMatch", data: { bankAccountId: BA, matchId, reason: "wrong", account: ACCOUNT, today: "2026-05-01", itemDates } }, closed);
    expect(code(unmatch("m1", ["2026-03-02", "2026-03-02"]))).toBe("RECONCILIATION_PERIOD_CLOSED");
    expect(code(unmatch("m2", ["2026-04-02", "2026-03-28"]))).toBe("RECONCILIATION_PERIOD_CLOSED");
    const later = propose(closed, proposal("m3", ["x9"], ["i9:0"], true));
    expect(code(decider.decideMatchDecision({ type: "UnmatchMatch", data: { bankAccountId: BA, matchId: "m3", reason: "wrong", account: ACCOUNT, today: "2026-05-01", itemDates: ["2026-04-10"] } }, later))).toBeUndefined();
  });
});
