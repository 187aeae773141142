// Proves the match decider, given / when / then, and its invariants over
// thousands of random sequences of decisions (fast-check):
// - a run's proposals land only with items that are open (a proposal
//   reusing an item of a live match, or of an earlier proposal of the same
//   run, is left out); auto-confirmed ones are confirmed in the same append;
// - confirm and reject need a suggestion, unmatch a confirmed match, each
//   refusal typed; a rejection or an unmatch opens the items again;
// - a manual match must balance or stay within the write-off limit, is
//   refused over an item of a confirmed match, and rejects the suggestions
//   it supersedes in the same append;
// - whatever the sequence: no item is ever in two live matches, a match
//   only moves along its lifecycle (evolve asserts both, so a broken
//   decision fails the property), the live index is exactly the items of
//   suggested and confirmed matches, and the state's maps do not change
//   when a later state is derived from them.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { reconciliationSchemaVersion } from "@trueup/contracts";
import * as decider from "../../src/reconciliation/matches/decider.ts";
import type { MatchEvent, ReconState, RunProposal } from "../../src/reconciliation/matches/decider.ts";
import { BucketMap } from "../../src/reconciliation/matches/bucket-map.ts";

const BA = "ba1";
const proposal = (matchId: string, externalIds: string[], internalIds: string[], autoConfirm = false): RunProposal => ({
  matchId, kind: externalIds.length === 1 ? (internalIds.length === 1 ? "1:1" : "1:N") : internalIds.length === 1 ? "N:1" : "N:M",
  externalIds, internalIds, currency: "EUR", ruleId: "ref", score: 95, criteria: [], differenceMinor: "0", writeOff: null, residual: null, ambiguous: false, autoConfirm,
});
const ACCOUNT = { ledgerId: "L1", ledgerAccount: "1000" };
const TODAY = "2026-03-31";
const propose = (...proposals: RunProposal[]): decider.ProposeMatches => ({ type: "ProposeMatches", data: { bankAccountId: BA, runId: "run1", proposals, account: ACCOUNT, today: TODAY } });
const decision = (type: decider.MatchDecisionCommand["type"], matchId: string, reason: string | null = "because"): decider.MatchDecisionCommand => ({ type, data: { bankAccountId: BA, matchId, reason, account: ACCOUNT, today: TODAY } });
const manual = (matchId: string, externals: [string, bigint][], internals: [string, bigint][], limitMinor: bigint | null = null): decider.ManualMatch => ({
  type: "ManualMatch",
  data: {
    bankAccountId: BA, matchId, currency: "EUR", reason: null, account: ACCOUNT, today: TODAY,
    externals: externals.map(([id, amountMinor]) => ({ id, amountMinor, date: "2026-03-02" })),
    internals: internals.map(([id, amountMinor]) => ({ id, amountMinor, date: "2026-03-01" })),
    writeOff: limitMinor === null ? null : { ledgerAccount: "6800", limitMinor },
  },
});

const fold = (state: ReconState, events: readonly MatchEvent[]) => events.reduce(decider.evolveRecon, state);
const eventsOf = (d: decider.Decision): MatchEvent[] => {
  if (!("events" in d)) throw new Error(`rejected: ${d.rejected.code}`);
  return d.events;
};
const codeOf = (d: decider.Decision) => ("rejected" in d ? d.rejected.code : undefined);
const types = (events: readonly MatchEvent[]) => events.map((e) => `${e.type}:${"matchId" in e.data ? e.data.matchId : ""}`);

describe("the match decider", () => {
  it("records a run's proposals whose items are open, and confirms the auto-confirmed ones in the same event", () => {
    let state = decider.initialReconState();
    const first = eventsOf(decider.decideProposals(propose(proposal("m1", ["e1"], ["i1"], true), proposal("m2", ["e2"], ["i2"]), proposal("m3", ["e2"], ["i3"])), state));
    // m3 reuses e2, which m2 claimed earlier in the same run.
    expect(types(first)).toEqual(["MatchProposed:m1", "MatchProposed:m2"]);
    expect(first.map((e) => e.type === "MatchProposed" && e.data.autoConfirmed)).toEqual([true, false]);
    state = fold(state, first);
    expect(state.matches.get("m1")).toMatchObject({ status: "confirmed", automatic: true });
    expect(state.matches.get("m2")?.status).toBe("suggested");
    // A later run: e1 and i2 are in live matches, so only m5 lands.
    const second = eventsOf(decider.decideProposals(propose(proposal("m4", ["e1"], ["i4"]), proposal("m6", ["e5"], ["i2"]), proposal("m5", ["e5"], ["i5"])), state));
    expect(types(second)).toEqual(["MatchProposed:m5"]);
    // Nothing open: no events (an unchanged stream).
    expect(eventsOf(decider.decideProposals(propose(proposal("m7", ["e1"], ["i1"])), fold(state, second)))).toEqual([]);
  });

  it("folds a log written before autoConfirmed: a proposal without it is a suggestion, its MatchConfirmed confirms it", () => {
    const [proposed] = eventsOf(decider.decideProposals(propose(proposal("m1", ["e1"], ["i1"])), decider.initialReconState()));
    if (proposed?.type !== "MatchProposed") throw new Error("no proposal");
    const { autoConfirmed: _absent, ...before } = proposed.data;
    const old = decider.parseMatchEvent({ type: "MatchProposed", schemaVersion: reconciliationSchemaVersion("MatchProposed"), data: before });
    expect(old).toMatchObject({ type: "MatchProposed", data: { autoConfirmed: false } });
    const state = fold(decider.initialReconState(), [old]);
    expect(state.matches.get("m1")?.status).toBe("suggested");
    const confirmed = fold(state, [decider.parseMatchEvent({ type: "MatchConfirmed", schemaVersion: reconciliationSchemaVersion("MatchConfirmed"), data: { bankAccountId: BA, matchId: "m1", automatic: true } })]);
    expect(confirmed.matches.get("m1")).toMatchObject({ status: "confirmed", automatic: true });
  });

  it("confirms or rejects a suggestion, unmatches a confirmed match, and refuses the rest", () => {
    let state = fold(decider.initialReconState(), eventsOf(decider.decideProposals(propose(proposal("m1", ["e1"], ["i1"]), proposal("m2", ["e2"], ["i2"])), decider.initialReconState())));
    expect(codeOf(decider.decideMatchDecision(decision("ConfirmMatch", "nope"), state))).toBe("MATCH_NOT_FOUND");
    expect(codeOf(decider.decideMatchDecision(decision("UnmatchMatch", "m1"), state))).toBe("MATCH_STATUS_CONFLICT");
    state = fold(state, eventsOf(decider.decideMatchDecision(decision("ConfirmMatch", "m1"), state)));
    expect(codeOf(decider.decideMatchDecision(decision("ConfirmMatch", "m1"), state))).toBe("MATCH_STATUS_CONFLICT");
    expect(codeOf(decider.decideMatchDecision(decision("RejectMatch", "m1"), state))).toBe("MATCH_STATUS_CONFLICT");
    const rejection = eventsOf(decider.decideMatchDecision(decision("RejectMatch", "m2"), state));
    expect(rejection.map((e) => e.type === "MatchRejected" && [e.data.externalIds, e.data.internalIds])).toEqual([[["e2"], ["i2"]]]);
    state = fold(state, rejection);
    expect(state.live.has(decider.itemKey("external", "e2"))).toBe(false);
    state = fold(state, eventsOf(decider.decideMatchDecision(decision("UnmatchMatch", "m1"), state)));
    expect(state.matches.get("m1")?.status).toBe("unmatched");
    expect(state.live.size).toBe(0);
    // The items are open again: a new run may propose them.
    expect(types(eventsOf(decider.decideProposals(propose(proposal("m3", ["e1"], ["i2"])), state)))).toEqual(["MatchProposed:m3"]);
  });

  it("takes a manual match that balances or stays within the write-off limit, superseding suggestions, never a confirmed match", () => {
    const state = fold(
      decider.initialReconState(),
      eventsOf(decider.decideProposals(propose(proposal("m1", ["e1"], ["i1"], true), proposal("m2", ["e2"], ["i2"])), decider.initialReconState())),
    );
    expect(codeOf(decider.decideManualMatch(manual("x1", [["e1", 100n]], [["i9", 100n]]), state))).toBe("MATCH_ITEM_TAKEN");
    expect(codeOf(decider.decideManualMatch(manual("x1", [["e3", 100n]], [["i3", 99n]]), state))).toBe("MATCH_UNBALANCED");
    expect(codeOf(decider.decideManualMatch(manual("x1", [["e3", 100n]], [["i3", 90n]], 5n), state))).toBe("MATCH_UNBALANCED");
    expect(codeOf(decider.decideManualMatch(manual("m1", [["e3", 100n]], [["i3", 100n]]), state))).toBe("MATCH_ALREADY_EXISTS");
    const events = eventsOf(decider.decideManualMatch(manual("x1", [["e2", 100n]], [["i3", 60n], ["i4", 35n]], 5n), state));
    expect(types(events)).toEqual(["MatchRejected:m2", "MatchProposed:x1", "MatchConfirmed:x1", "WriteOffRequested:x1"]);
    // The superseded suggestion names the items it held, for their case files (i2 is open again, e2 goes to x1).
    expect(events[0]).toEqual({ type: "MatchRejected", data: { bankAccountId: BA, matchId: "m2", reason: "superseded by the manual match x1", externalIds: ["e2"], internalIds: ["i2"] } });
    const proposed = events[1];
    expect(proposed?.type === "MatchProposed" && { kind: proposed.data.kind, difference: proposed.data.differenceMinor, writeOff: proposed.data.writeOff }).toEqual({
      kind: "1:N", difference: "5", writeOff: { amountMinor: "5", ledgerAccount: "6800", date: "2026-03-02" },
    });
    // Dated by the bank line, posted to the account's ledger, one entry id per match.
    expect(events[3]).toEqual({
      type: "WriteOffRequested",
      data: { bankAccountId: BA, matchId: "x1", ledgerId: "L1", entryId: decider.writeOffEntryId("x1"), effectiveDate: "2026-03-02", currency: "EUR", amountMinor: "5", bankLedgerAccount: "1000", writeOffAccount: "6800" },
    });
    const after = fold(state, events);
    expect(after.live.get(decider.itemKey("internal", "i2"))).toBeUndefined();
    expect(after.live.get(decider.itemKey("external", "e2"))).toBe("x1");
  });

  it("learns counterparty → account hints from a confirmed manual match, and takes them back on unmatch", () => {
    const taught = (matchId: string, externals: decider.ManualItem[], internals: decider.ManualItem[]): decider.ManualMatch => ({
      type: "ManualMatch",
      data: { bankAccountId: BA, matchId, currency: "EUR", reason: null, account: ACCOUNT, today: TODAY, externals, internals, writeOff: null },
    });
    const acme = { id: "e1", amountMinor: 100n, date: "2026-03-02", counterpartyName: "Acme GmbH", counterpartyIban: "de89 3704 0044 0532 0130 00" };
    const sale = { id: "i1", amountMinor: 100n, date: "2026-03-01", contraAccounts: ["4000"] };
    let state = decider.initialReconState();
    const first = eventsOf(decider.decideManualMatch(taught("m1", [acme], [sale]), state));
    const proposed = first.find((e) => e.type === "MatchProposed");
    // The name as the engine compares it (legal form dropped), the IBAN without spaces; sorted.
    expect(proposed?.type === "MatchProposed" ? proposed.data.learned : undefined).toEqual([
      { counterparty: "ACME", ledgerAccount: "4000" },
      { counterparty: "DE89370400440532013000", ledgerAccount: "4000" },
    ]);
    state = fold(state, first);
    const second = eventsOf(decider.decideManualMatch(taught("m2", [{ ...acme, id: "e2", counterpartyIban: null }], [{ ...sale, id: "i2" }]), state));
    state = fold(state, second);
    expect([...state.hints.entries()].sort()).toEqual([["ACME\n4000", 2], ["DE89370400440532013000\n4000", 1]]);
    // A run's proposals teach nothing, even confirmed.
    state = fold(state, eventsOf(decider.decideProposals(propose(proposal("m3", ["e3"], ["i3"], true)), state)));
    expect(state.hints.size).toBe(2);
    state = fold(state, eventsOf(decider.decideMatchDecision(decision("UnmatchMatch", "m1"), state)));
    expect([...state.hints.entries()]).toEqual([["ACME\n4000", 1]]);
    state = fold(state, eventsOf(decider.decideMatchDecision(decision("UnmatchMatch", "m2"), state)));
    expect(state.hints.size).toBe(0);
  });

  it("teaches the same sorted, distinct lesson whatever the items' order, and at most MATCH_LEARNED_HINTS_MAX pairs", () => {
    const externals = Array.from({ length: 6 }, (_, k) => ({ id: `e${String(k)}`, amountMinor: 10n, date: "2026-03-02", counterpartyName: `Party ${String(k)}`, counterpartyIban: null }));
    const internals = Array.from({ length: 4 }, (_, k) => ({ id: `i${String(k)}`, amountMinor: 15n, date: "2026-03-01", contraAccounts: [`40${String(k)}0`, "4000"] }));
    const learned = (ex: decider.ManualItem[], int: decider.ManualItem[]) => {
      const events = eventsOf(decider.decideManualMatch({ type: "ManualMatch", data: { bankAccountId: BA, matchId: "m", currency: "EUR", reason: null, account: ACCOUNT, today: TODAY, externals: ex, internals: int, writeOff: null } }, decider.initialReconState()));
      const p = events.find((e) => e.type === "MatchProposed");
      return p?.type === "MatchProposed" ? p.data.learned : [];
    };
    const forwards = learned(externals, internals);
    expect(forwards).toHaveLength(16);
    expect(learned([...externals].reverse(), [...internals].reverse())).toEqual(forwards);
    expect(new Set(forwards.map((h) => `${h.counterparty}|${h.ledgerAccount}`)).size).toBe(16);
    // Nothing to learn without a counterparty or a contra account.
    expect(learned([{ id: "e", amountMinor: 5n, date: null }], [{ id: "i", amountMinor: 5n, date: null, contraAccounts: ["4000"] }])).toEqual([]);
    expect(learned([{ id: "e", amountMinor: 5n, date: null, counterpartyName: "Acme" }], [{ id: "i", amountMinor: 5n, date: null }])).toEqual([]);
  });

  it("refuses to load a stream whose events would put an item in two live matches", () => {
    const [proposed] = eventsOf(decider.decideProposals(propose(proposal("m1", ["e1"], ["i1"])), decider.initialReconState()));
    if (proposed?.type !== "MatchProposed") throw new Error("no proposal");
    const twice: MatchEvent = { type: "MatchProposed", data: { ...proposed.data, matchId: "m2", internalIds: ["i2"] } };
    expect(() => fold(decider.initialReconState(), [proposed, twice])).toThrow(/two live matches/);
  });
});

describe("match decisions, whatever their order", () => {
  const item = fc.integer({ min: 0, max: 5 });
  const command = fc.oneof(
    fc.record({ kind: fc.constant("propose" as const), pairs: fc.array(fc.tuple(fc.uniqueArray(item, { minLength: 1, maxLength: 2 }), fc.uniqueArray(item, { minLength: 1, maxLength: 2 }), fc.boolean()), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constantFrom("ConfirmMatch" as const, "RejectMatch" as const, "UnmatchMatch" as const), match: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant("manual" as const), externals: fc.uniqueArray(item, { minLength: 1, maxLength: 2 }), internals: fc.uniqueArray(item, { minLength: 1, maxLength: 2 }), balanced: fc.boolean() }),
  );

  it("never puts an item in two live matches, and the live index is exactly the live matches' items", () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        let state = decider.initialReconState();
        let next = 0;
        const ids: string[] = [];
        for (const c of commands) {
          const before = state;
          const beforeLive = [...before.live.entries()];
          let d: decider.Decision;
          if (c.kind === "propose") {
            d = decider.decideProposals(propose(...c.pairs.map(([e, i, auto]) => proposal(`m${next++}`, e.map((n) => `e${n}`), i.map((n) => `i${n}`), auto))), state);
          } else if (c.kind === "manual") {
            const externals = c.externals.map((n): [string, bigint] => [`e${n}`, 10n]);
            const internals = c.internals.map((n): [string, bigint] => [`i${n}`, 10n]);
            const total = BigInt(externals.length * 10 - internals.length * 10);
            d = decider.decideManualMatch(manual(`m${next++}`, externals, internals, c.balanced ? (total < 0n ? -total : total) : null), state);
          } else {
            d = decider.decideMatchDecision(decision(c.kind, ids[c.match % Math.max(ids.length, 1)] ?? "none"), state);
          }
          if ("events" in d) {
            state = fold(state, d.events);
            for (const e of d.events) if (e.type === "MatchProposed") ids.push(e.data.matchId);
          }
          // The earlier state was not changed by deriving this one.
          expect([...before.live.entries()]).toEqual(beforeLive);
        }
        const expected = new Map<string, string>();
        for (const [matchId, match] of state.matches.entries()) {
          if (match.status !== "suggested" && match.status !== "confirmed") continue;
          for (const key of [...match.externalIds.map((id) => decider.itemKey("external", id)), ...match.internalIds.map((id) => decider.itemKey("internal", id))]) {
            expect(expected.has(key), `${key} is in ${expected.get(key) ?? ""} and ${matchId}`).toBe(false);
            expected.set(key, matchId);
          }
        }
        expect(new Map(state.live.entries())).toEqual(expected);
        expect(state.live.size).toBe(expected.size);
      }),
      { numRuns: 1_500 },
    );
  });
});

describe("the bucket map", () => {
  it("sets, removes and counts, leaving the map it came from unchanged", () => {
    const empty = BucketMap.empty<number>();
    const one = empty.with([["a", 1], ["b", 2]]);
    const two = one.with([["a", 3], ["c", 4]], ["b", "zz"]);
    expect([empty.size, one.size, two.size]).toEqual([0, 2, 2]);
    expect([one.get("a"), one.get("b"), two.get("a"), two.get("b"), two.get("c")]).toEqual([1, 2, 3, undefined, 4]);
    expect(new Map(two.entries())).toEqual(new Map([["a", 3], ["c", 4]]));
    const many = BucketMap.empty<number>().with(Array.from({ length: 5_000 }, (_, k) => [`k${k}`, k] as const));
    expect(many.size).toBe(5_000);
    expect(many.get("k4999")).toBe(4_999);
  });
});

describe("a run's item limit", () => {
  it("is what half the heap holds, within its floor and ceiling", async () => {
    const { RUN_HEAP_BYTES_PER_ITEM, RUN_ITEMS_PER_SIDE_CEILING, runItemsPerSideMax } = await import("../../src/reconciliation/matches/run.ts");
    // npm start's default heap, 320 MB: about 20,000 items a side.
    expect(runItemsPerSideMax(320 * 1024 * 1024)).toBe(Math.floor((320 * 1024 * 1024) / 2 / RUN_HEAP_BYTES_PER_ITEM));
    expect(runItemsPerSideMax(320 * 1024 * 1024)).toBeGreaterThan(20_000);
    expect(runItemsPerSideMax(64 * 1024 ** 3)).toBe(RUN_ITEMS_PER_SIDE_CEILING);
    expect(runItemsPerSideMax(1)).toBe(1_000);
  });
});
