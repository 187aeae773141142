// Proves, against a real PostgreSQL event store, that no item is ever in
// two live matches when decisions race: two service instances (as two
// processes would, so in-process batching cannot hide a conflict) submit
// runs' proposals, manual matches, confirms, rejects and unmatches over a
// small set of items all at once, round after round. Every command either
// lands or is refused with a typed code; the stream, read back and folded
// (evolve asserts the invariant and the lifecycle), has every item in at
// most one live match; and a command sent twice at once is written once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrueupError, reconStream } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import { createTestDatabase } from "../../../test-support/postgres.ts";
import type { TestDatabase } from "../../../test-support/postgres.ts";
import { seededRandom } from "../../../test-support/random.ts";
import { MatchCommandService } from "../../src/reconciliation/matches/service.ts";
import * as decider from "../../src/reconciliation/matches/decider.ts";
import type { RunProposal } from "../../src/reconciliation/matches/decider.ts";

let commands = 0;
const ctx = (commandId = `cmd-${++commands}`) => ({ commandId, actor: "race-test", correlationId: commandId, occurredAt: new Date("2026-03-01T00:00:00Z") });
const proposal = (matchId: string, e: string, i: string, autoConfirm: boolean): RunProposal => ({
  matchId, kind: "1:1", externalIds: [e], internalIds: [i], currency: "EUR", ruleId: "ref", score: 95, criteria: [], differenceMinor: "0", writeOff: null, residual: null, ambiguous: false, autoConfirm,
});

const ACCOUNT = { ledgerId: "L1", ledgerAccount: "1000" };
const TODAY = "2026-03-31";

describe("match decisions racing on one account's recon stream", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let services: [MatchCommandService, MatchCommandService];
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    services = [new MatchCommandService({ store }), new MatchCommandService({ store })];
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("never puts an item in two live matches, whatever lands first", async () => {
    const random = seededRandom(7);
    const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const bankAccountId = "race1";
    const items = (side: string) => Array.from({ length: 5 }, (_, k) => `${side}${k}`);
    const [externals, internals] = [items("e"), items("i")];
    const refused = new Map<string, number>();
    let landed = 0;
    let next = 0;
    for (let round = 0; round < 12; round++) {
      const known = [...(await services[0].state(bankAccountId)).matches.entries()];
      const attempts = Array.from({ length: 8 }, () => {
        const service = pick(services);
        const kind = pick(["run", "manual", "confirm", "reject", "unmatch"] as const);
        const matchId = `m${next++}`;
        const someMatch = known.length === 0 ? "none" : pick(known)[0];
        switch (kind) {
          case "run":
            return service.propose(ctx(), { type: "ProposeMatches", data: { bankAccountId, runId: `run${round}`, proposals: [proposal(matchId, pick(externals), pick(internals), random() < 0.5), proposal(`${matchId}b`, pick(externals), pick(internals), false)], account: ACCOUNT, today: TODAY } });
          case "manual":
            return service.manualMatch(ctx(), {
              type: "ManualMatch",
              data: { bankAccountId, matchId, externals: [{ id: pick(externals), amountMinor: 100n, date: null }], internals: [{ id: pick(internals), amountMinor: 100n, date: null }], currency: "EUR", writeOff: null, reason: "race", account: ACCOUNT, today: TODAY },
            });
          default:
            return service.decide(ctx(), { type: kind === "confirm" ? "ConfirmMatch" : kind === "reject" ? "RejectMatch" : "UnmatchMatch", data: { bankAccountId, matchId: someMatch, reason: "race", account: ACCOUNT, today: TODAY } });
        }
      });
      for (const outcome of await Promise.allSettled(attempts)) {
        if (outcome.status === "fulfilled") {
          landed++;
          continue;
        }
        // Every refusal is a typed one: a decision that lost the race is decided again and refused, never written on a stale state.
        const error: unknown = outcome.reason;
        expect(error, String(error)).toBeInstanceOf(TrueupError);
        const code = (error as TrueupError).code;
        expect(["MATCH_NOT_FOUND", "MATCH_STATUS_CONFLICT", "MATCH_ITEM_TAKEN"]).toContain(code);
        refused.set(code, (refused.get(code) ?? 0) + 1);
      }
    }
    expect(landed).toBeGreaterThan(20);
    // Read back from the store and folded from scratch: evolve throws if any item were in two live matches.
    const recorded = await store.readStream(reconStream(bankAccountId));
    const state = recorded.map(decider.parseMatchEvent).reduce(decider.evolveRecon, decider.initialReconState());
    const holders = new Map<string, string>();
    for (const [matchId, match] of state.matches.entries()) {
      if (match.status !== "suggested" && match.status !== "confirmed") continue;
      for (const id of [...match.externalIds.map((e) => `e:${e}`), ...match.internalIds.map((i) => `i:${i}`)]) {
        expect(holders.get(id), `${id} in ${holders.get(id) ?? ""} and ${matchId}`).toBeUndefined();
        holders.set(id, matchId);
      }
    }
    expect(recorded.length).toBeGreaterThan(20);
  });

  it("writes a command sent twice at once only once", async () => {
    const bankAccountId = "race2";
    const command = ctx("twice");
    const manual: decider.ManualMatch = {
      type: "ManualMatch",
      data: { bankAccountId, matchId: "x1", externals: [{ id: "e1", amountMinor: 5n, date: null }], internals: [{ id: "i1", amountMinor: 5n, date: null }], currency: "EUR", writeOff: null, reason: null, account: ACCOUNT, today: TODAY },
    };
    const [a, b] = await Promise.all([services[0].manualMatch(command, manual), services[1].manualMatch(command, manual)]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect((await store.readStream(reconStream(bankAccountId))).map((e) => e.type)).toEqual(["MatchProposed", "MatchConfirmed"]);
  });
});
