// Proves the matching projection, given recon events in a PostgreSQL event
// store, then the read model:
// - a random history of proposals, confirmations, rejections and unmatches
//   (items freed and taken again, often inside one batch) ends with
//   match_items equal to a plain model's live items and every match in its
//   model status, whatever the batch size (1, 3, 16, 1000: the tables are
//   identical);
// - each decision is in the history with its actor and reason, and a run's
//   record is kept;
// - a decision whose match is missing or in the wrong status (a lost event)
//   stops the projection on that event instead of showing a wrong status.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import type { NewEvent } from "@trueup/event-store";
import { reconStream } from "@trueup/contracts";
import { ProjectionWorker, matchingProjection, qualified, rebuildProjection } from "../src/index.ts";
import { AUTO_CONFIRMED_REASON } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { reconciliationEvent } from "../../test-support/reconciliation-events.ts";
import { seededRandom } from "../../test-support/random.ts";

const ACCOUNT = "mrm_bank";
const TABLES = ["matches", "match_items", "match_decisions", "runs"] as const;

type Status = "suggested" | "confirmed" | "rejected" | "unmatched";
interface ModelMatch { status: Status; externalIds: string[]; internalIds: string[] }

function proposed(matchId: string, externalIds: string[], internalIds: string[], runId: string | null, autoConfirmed = false): NewEvent {
  return reconciliationEvent("MatchProposed", {
    bankAccountId: ACCOUNT, matchId, runId, kind: externalIds.length === 1 ? (internalIds.length === 1 ? "1:1" : "1:N") : internalIds.length === 1 ? "N:1" : "N:M",
    externalIds, internalIds, currency: "EUR", ruleId: runId === null ? null : "amount-date", score: 80,
    criteria: [{ criterion: "amount", grade: "exact", points: 0, reason: "amount exact" }],
    differenceMinor: "-25", writeOff: { amountMinor: "-25", ledgerAccount: "6800", date: "2026-01-31" }, residual: null, ambiguous: false, learned: [], autoConfirmed,
  });
}

/**
 * A random history the recon decider would accept: proposals take only open
 * items; confirm and reject act on suggestions, unmatch on confirmations.
 * Returns the events and the model's final state.
 */
function history(seed: number, steps: number): { events: NewEvent[]; model: Map<string, ModelMatch> } {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
  const model = new Map<string, ModelMatch>();
  const taken = new Set<string>();
  const events: NewEvent[] = [];
  const externals = Array.from({ length: 12 }, (_, i) => `ext-${i}`);
  const internals = Array.from({ length: 12 }, (_, i) => `e${i}:0`);
  const get = (id: string): ModelMatch => {
    const match = model.get(id);
    if (match === undefined) throw new Error(`no model match ${id}`);
    return match;
  };
  const free = (match: ModelMatch): void => {
    for (const id of match.externalIds) taken.delete(`e:${id}`);
    for (const id of match.internalIds) taken.delete(`i:${id}`);
  };
  for (let step = 0; step < steps; step++) {
    const roll = random();
    const inStatus = (status: Status): string[] => [...model].filter(([, m]) => m.status === status).map(([id]) => id);
    if (roll < 0.4) {
      const openExt = externals.filter((id) => !taken.has(`e:${id}`));
      const openInt = internals.filter((id) => !taken.has(`i:${id}`));
      const e = pick(openExt);
      const i = pick(openInt);
      if (e === undefined || i === undefined) continue;
      const second = random() < 0.3 ? pick(openInt.filter((x) => x !== i)) : undefined;
      const internalIds = second === undefined ? [i] : [i, second];
      const matchId = `${ACCOUNT}:m${step}`;
      model.set(matchId, { status: "suggested", externalIds: [e], internalIds });
      taken.add(`e:${e}`);
      for (const id of internalIds) taken.add(`i:${id}`);
      const runId = random() < 0.5 ? "run-1" : null;
      if (random() < 0.3) {
        model.set(matchId, { ...get(matchId), status: "confirmed" });
        // Auto-confirmed by a run: one event now (autoConfirmed), two in a log written before it.
        if (runId !== null && random() < 0.5) events.push(proposed(matchId, [e], internalIds, runId, true));
        else events.push(proposed(matchId, [e], internalIds, runId), reconciliationEvent("MatchConfirmed", { bankAccountId: ACCOUNT, matchId, automatic: true }));
      } else events.push(proposed(matchId, [e], internalIds, runId));
    } else if (roll < 0.6) {
      const id = pick(inStatus("suggested"));
      if (id === undefined) continue;
      model.set(id, { ...get(id), status: "confirmed" });
      events.push(reconciliationEvent("MatchConfirmed", { bankAccountId: ACCOUNT, matchId: id, automatic: false }));
    } else if (roll < 0.8) {
      const id = pick(inStatus("suggested"));
      if (id === undefined) continue;
      const match = get(id);
      model.set(id, { ...match, status: "rejected" });
      free(match);
      events.push(reconciliationEvent("MatchRejected", { bankAccountId: ACCOUNT, matchId: id, reason: `not right ${step}`, externalIds: match.externalIds, internalIds: match.internalIds }));
    } else {
      const id = pick(inStatus("confirmed"));
      if (id === undefined) continue;
      const match = get(id);
      model.set(id, { ...match, status: "unmatched" });
      free(match);
      events.push(reconciliationEvent("MatchUnmatched", { bankAccountId: ACCOUNT, matchId: id, reason: `wrong customer ${step}`, externalIds: match.externalIds, internalIds: match.internalIds }));
    }
  }
  return { events, model };
}

describe("matching projection: given recon events, then read model", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const { events, model } = history(7, 400);
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    // Appended in a few slices, so a batch boundary falls inside a slice or on its edge depending on the batch size.
    for (let at = 0; at < events.length; at += 37) await store.append(reconStream(ACCOUNT), events.slice(at, at + 37), { expectedRevision: at === 0 ? "no-stream" : BigInt(at - 1) });
    await store.append(reconStream(ACCOUNT), [
      reconciliationEvent("ReconciliationRunRecorded", {
        bankAccountId: ACCOUNT, runId: "run-1", window: { from: "2026-01-01", to: null }, items: { external: 12, internal: 12 },
        proposals: { "1:1": 3, "1:N": 1, "N:1": 0, "N:M": 0 }, autoConfirmed: 2, suggested: 2, ambiguous: 1, conflicts: 0,
        bounds: [{ bound: "candidatesPerItemMax", times: 2, detail: "2 items had more candidates than 50" }],
      }),
    ], { expectedRevision: BigInt(events.length - 1) });
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: matchingProjection }).runUntilCaughtUp();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  const rows = async (sql: string): Promise<Record<string, unknown>[]> => (await db.pool.query<Record<string, unknown>>(sql)).rows;

  it("ends with every match in the model's status and exactly the live matches' items", async () => {
    const statuses = await rows("SELECT match_id, status FROM rm_matching.matches ORDER BY match_id");
    expect(statuses).toEqual([...model].sort(([a], [b]) => (a < b ? -1 : 1)).map(([matchId, m]) => ({ match_id: matchId, status: m.status })));
    const expectedItems = [...model]
      .filter(([, m]) => m.status === "suggested" || m.status === "confirmed")
      .flatMap(([matchId, m]) => [...m.externalIds.map((id) => ["external", id, matchId, m.status]), ...m.internalIds.map((id) => ["internal", id, matchId, m.status])])
      .map(([side, item_id, match_id, status]) => ({ side, item_id, match_id, status }))
      .sort((a, b) => (`${a.side}${a.item_id}` < `${b.side}${b.item_id}` ? -1 : 1));
    expect(await rows("SELECT side, item_id, match_id, status FROM rm_matching.match_items ORDER BY side, item_id")).toEqual(expectedItems);
    // The history really did free items and take them again (else the test proves little).
    expect([...model.values()].filter((m) => m.status === "rejected").length).toBeGreaterThan(5);
    expect([...model.values()].filter((m) => m.status === "unmatched").length).toBeGreaterThan(5);
  });

  it("keeps every decision with its actor and reason, and the run's record", async () => {
    const [{ n }] = (await rows("SELECT count(*)::int AS n FROM rm_matching.match_decisions")) as [{ n: number }];
    expect(n).toBe(events.length);
    // An auto-confirmed proposal is one event: one decision, confirmed, whose reason says how.
    const autoConfirmed = events.filter((e) => e.type === "MatchProposed" && (e.data as { autoConfirmed: boolean }).autoConfirmed).map((e) => (e.data as { matchId: string }).matchId);
    expect(autoConfirmed.length).toBeGreaterThan(3);
    const stillConfirmed = autoConfirmed.find((id) => model.get(id)?.status === "confirmed");
    expect(stillConfirmed).toBeDefined();
    const confirmedWith = await rows(`SELECT d.type, d.automatic, d.reason, m.automatic AS match_automatic, m.decided_position = d.position AS at_proposal
      FROM rm_matching.match_decisions d JOIN rm_matching.matches m USING (match_id) WHERE d.match_id = '${stillConfirmed ?? ""}' ORDER BY d.position LIMIT 1`);
    expect(confirmedWith).toEqual([{ type: "MatchProposed", automatic: true, reason: AUTO_CONFIRMED_REASON, match_automatic: true, at_proposal: true }]);
    const unmatched = await rows("SELECT reason, actor, type FROM rm_matching.match_decisions WHERE type = 'MatchUnmatched' ORDER BY position LIMIT 1");
    expect(unmatched[0]).toMatchObject({ actor: "user:test", type: "MatchUnmatched", reason: expect.stringMatching(/^wrong customer/) as unknown });
    const decided = await rows("SELECT status, decided_by, reason FROM rm_matching.matches WHERE status = 'rejected' LIMIT 1");
    expect(decided[0]).toMatchObject({ status: "rejected", decided_by: "user:test", reason: expect.stringMatching(/^not right/) as unknown });
    expect(await rows("SELECT run_id, window_from::text AS window_from, window_to, conflicts, bounds FROM rm_matching.runs")).toEqual([
      { run_id: "run-1", window_from: "2026-01-01", window_to: null, conflicts: 0, bounds: [{ bound: "candidatesPerItemMax", times: 2, detail: "2 items had more candidates than 50" }] },
    ]);
    expect(await rows("SELECT difference_minor::text AS d, write_off_minor::text AS w, write_off_account FROM rm_matching.matches LIMIT 1")).toEqual([{ d: "-25", w: "-25", write_off_account: "6800" }]);
  });

  it("builds the same tables whatever the batch size", async () => {
    const dump = async (schemaName: string): Promise<string[][]> => {
      const out: string[][] = [];
      for (const table of TABLES) out.push((await db.pool.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM ${qualified(schemaName, table)} t ORDER BY 1`)).rows.map((r) => r.row));
      return out;
    };
    const live = await dump("rm_matching");
    for (const batchSizeMax of [1, 3, 16]) {
      const copy = { ...matchingProjection, name: `matching_b${batchSizeMax}`, schemaName: `rm_matching_b${batchSizeMax}` };
      await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: copy, batchSizeMax }).runUntilCaughtUp();
      expect(await dump(copy.schemaName)).toEqual(live);
    }
    const rebuilt = await rebuildProjection({ pool: db.pool, eventStore: store, projection: matchingProjection, batchSizeMax: 5 });
    expect(rebuilt.checkpoint.eventsApplied).toBe(BigInt(events.length + 1));
    expect(await dump("rm_matching")).toEqual(live);
  });
});

describe("matching projection: a decision the read model cannot place", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("stops on an unmatch of a match that was never confirmed, naming the event", async () => {
    await store.append(reconStream(ACCOUNT), [
      proposed(`${ACCOUNT}:a`, ["x1"], ["y1:0"], null),
      reconciliationEvent("MatchUnmatched", { bankAccountId: ACCOUNT, matchId: `${ACCOUNT}:a`, reason: "lost the confirm", externalIds: ["x1"], internalIds: ["y1:0"] }),
    ], { expectedRevision: "no-stream" });
    const worker = new ProjectionWorker({ pool: db.pool, eventStore: store, projection: matchingProjection });
    await expect(worker.runUntilCaughtUp()).rejects.toThrow(/finds its match in the status it needs \(mrm_bank:a\)/);
    expect(worker.status.state).toBe("halted");
    // The proposal before it is applied; the unmatch is held as a dead letter.
    expect((await db.pool.query("SELECT status FROM rm_matching.matches")).rows).toEqual([{ status: "suggested" }]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM rm_matching.dead_letters WHERE status = 'blocking'")).rows).toEqual([{ n: 1 }]);
  });
});
