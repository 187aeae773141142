// Proves the cases projection (reconciliation case files) over a real
// PostgresEventStore and the PostgreSQL document sink — given recon events,
// then documents:
// - a match's case file holds its explanation (score, criteria with their
//   reasons, items, the difference as a digit string), its status, where its
//   write-off stands (requested then posted; refused with the requested entry
//   kept) and every event of the match in its history with actor, reason and
//   whether the system did it; a recorded run is a document of its own;
// - the history is bounded: past CASE_HISTORY_KEEP_LAST the oldest entries
//   go, counted in historyDropped;
// - the plan's ordinals follow from each event alone: planning the log in
//   any cut of batches gives the same changes;
// - the same documents whatever the worker's batch size (1, 3, 100);
// - a crash between the document write and the checkpoint (the MongoDB
//   path: all of a batch's documents written, or only part), then a
//   restart, ends identical to a clean build, with no history entry twice;
// - an event of another type in a recon stream is read past, not a failure;
// - it registers beside the PostgreSQL projections, and the registry refuses
//   a second projection of its name (of either kind) or of one of its
//   collections.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconStream } from "@trueup/contracts";
import type { ReconciliationEventType } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import type { NewEvent, RecordedEvent } from "@trueup/event-store";
import {
  CASES_COLLECTION, CASE_HISTORY_KEEP_LAST, DocumentProjectionWorker, PostgresDocumentSink, ProjectionRegistry, RUNS_COLLECTION, casesProjection, matchingProjection, planCaseDocuments,
} from "../src/index.ts";
import type { DocumentSink, StoredDocument } from "../src/index.ts";
import { AUTO_CONFIRMED_REASON } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { reconciliationEvent } from "../../test-support/reconciliation-events.ts";
import { seededRandom } from "../../test-support/random.ts";
import { freshName, snapshotDocuments } from "./documents/conformance.ts";
import { SimulatedCrash, crashingSink } from "./documents/fixtures/ledger-documents.ts";

const ACCOUNT = "cases_bank";
const BOUND_ACCOUNT = "cases_bound";
const RETRY = { attemptsMax: 3, delayFirstMs: 5, delayMaxMs: 50 } as const;
/** Events the bounded-history match gets beyond its proposal: past the bound by a few. */
const REFUSALS = CASE_HISTORY_KEEP_LAST + 5;
const COLLECTIONS = casesProjection.collections;

type Data<T extends ReconciliationEventType> = Parameters<typeof reconciliationEvent<T>>[1];

function by<T extends ReconciliationEventType>(actor: string, type: T, data: Data<T>): NewEvent {
  const event = reconciliationEvent(type, data);
  return { ...event, metadata: { ...event.metadata, actor } };
}

/** The items of proposal(matchId): what its rejection or unmatch opens again. */
function itemsOf(matchId: string): { externalIds: string[]; internalIds: string[] } {
  return { externalIds: [`ext-${matchId}`], internalIds: [`${matchId}-e1:0`, `${matchId}-e2:0`] };
}

function proposal(matchId: string, options: { runId?: string | null; writeOffMinor?: string; ambiguous?: boolean; account?: string; autoConfirmed?: boolean } = {}): Data<"MatchProposed"> {
  const runId = options.runId === undefined ? "run-1" : options.runId;
  const writeOffMinor = options.writeOffMinor;
  return {
    bankAccountId: options.account ?? ACCOUNT, matchId, runId, kind: "1:N", ...itemsOf(matchId), currency: "EUR",
    ruleId: runId === null ? null : "amount-date", score: 86,
    criteria: [{ criterion: "amount", grade: "exact", points: 0, reason: "amount exact" }, { criterion: "date", grade: "close", points: -4, reason: "value date +2 days (window 3)" }],
    differenceMinor: writeOffMinor ?? "0",
    writeOff: writeOffMinor === undefined ? null : { amountMinor: writeOffMinor, ledgerAccount: "6800", date: "2026-01-31" },
    residual: null, ambiguous: options.ambiguous ?? false, learned: [], autoConfirmed: options.autoConfirmed ?? false,
  };
}

const writeOffRequested = (matchId: string, entryId: string): Data<"WriteOffRequested"> => ({
  bankAccountId: ACCOUNT, matchId, ledgerId: "L1", entryId, effectiveDate: "2026-01-31", currency: "EUR", amountMinor: "-25", bankLedgerAccount: "1000", writeOffAccount: "6800",
});

/** The scenario the explicit expectations below are about, in log order. */
const SCENARIO: readonly NewEvent[] = [
  by("system:run", "MatchProposed", proposal("m1")),
  by("system:run", "MatchConfirmed", { bankAccountId: ACCOUNT, matchId: "m1", automatic: true }),
  by("system:run", "MatchProposed", proposal("m2", { ambiguous: true })),
  by("system:run", "MatchProposed", proposal("m3", { writeOffMinor: "-25" })),
  by("clerk:ana", "ReconciliationRunRecorded", {
    bankAccountId: ACCOUNT, runId: "run-1", window: { from: "2026-01-01", to: null }, items: { external: 3, internal: 6 },
    proposals: { "1:1": 0, "1:N": 3, "N:1": 0, "N:M": 0 }, autoConfirmed: 1, suggested: 2, ambiguous: 1, conflicts: 0,
    bounds: [{ bound: "candidatesPerItemMax", times: 2, detail: "2 items had more candidates than 50" }],
  }),
  by("clerk:bo", "MatchRejected", { bankAccountId: ACCOUNT, matchId: "m2", reason: "another customer's payment", ...itemsOf("m2") }),
  by("clerk:bo", "MatchConfirmed", { bankAccountId: ACCOUNT, matchId: "m3", automatic: false }),
  by("clerk:bo", "WriteOffRequested", writeOffRequested("m3", "wo_m3")),
  by("system:write-offs", "WriteOffPosted", { bankAccountId: ACCOUNT, matchId: "m3", ledgerId: "L1", entryId: "wo_m3" }),
  by("clerk:cy", "MatchUnmatched", { bankAccountId: ACCOUNT, matchId: "m1", reason: "paid twice, refunded", ...itemsOf("m1") }),
  by("clerk:dee", "MatchProposed", proposal("m4", { runId: null, writeOffMinor: "-25" })),
  by("clerk:dee", "MatchConfirmed", { bankAccountId: ACCOUNT, matchId: "m4", automatic: false }),
  by("clerk:dee", "WriteOffRequested", writeOffRequested("m4", "wo_m4")),
  by("system:write-offs", "WriteOffRefused", { bankAccountId: ACCOUNT, matchId: "m4", code: "PERIOD_CLOSED", message: "2026-01 is closed" }),
];

/** Matches with random lifecycles (confirm, reject, confirm then unmatch, write-offs), so batch boundaries fall everywhere. */
function generated(seed: number, count: number, prefix: string): NewEvent[] {
  const random = seededRandom(seed);
  const events: NewEvent[] = [];
  for (let n = 0; n < count; n++) {
    const matchId = `${prefix}${n}`;
    const writeOff = random() < 0.3;
    const roll = random();
    // Half the automatic confirmations come with their proposal, as a run writes them now (MatchProposed.autoConfirmed).
    const autoConfirmed = roll >= 0.3 && roll < 0.5 && random() < 0.5;
    events.push(by("system:run", "MatchProposed", proposal(matchId, { ...(writeOff ? { writeOffMinor: "-25" } : {}), autoConfirmed })));
    if (roll < 0.3) {
      events.push(by("clerk:x", "MatchRejected", { bankAccountId: ACCOUNT, matchId, reason: `not it ${n}`, ...itemsOf(matchId) }));
      continue;
    }
    if (roll < 0.9 && !autoConfirmed) events.push(by("clerk:x", "MatchConfirmed", { bankAccountId: ACCOUNT, matchId, automatic: roll < 0.5 }));
    if (roll < 0.9 && writeOff) {
      events.push(by("clerk:x", "WriteOffRequested", writeOffRequested(matchId, `wo_${matchId}`)));
      events.push(random() < 0.5
        ? by("system:write-offs", "WriteOffPosted", { bankAccountId: ACCOUNT, matchId, ledgerId: "L1", entryId: `wo_${matchId}` })
        : by("system:write-offs", "WriteOffRefused", { bankAccountId: ACCOUNT, matchId, code: "PERIOD_CLOSED", message: `closed ${n}` }));
    }
    if (roll < 0.6 && !writeOff) events.push(by("clerk:y", "MatchUnmatched", { bankAccountId: ACCOUNT, matchId, reason: `wrong ${n}`, ...itemsOf(matchId) }));
  }
  return events;
}

let db: TestDatabase;
let store: PostgresEventStore;
/** Revision of the last event appended to the scenario's stream. */
let revision = -1n;

async function append(streamAccount: string, events: readonly NewEvent[], slice = 37): Promise<void> {
  for (let at = 0; at < events.length; at += slice) {
    const expectedRevision = streamAccount === ACCOUNT ? (revision < 0n ? "no-stream" : revision) : "any";
    const result = await store.append(reconStream(streamAccount), events.slice(at, at + slice), { expectedRevision });
    if (streamAccount === ACCOUNT) revision = result.nextExpectedRevision;
  }
}

async function allEvents(): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: events[events.length - 1]?.position, filter: casesProjection.filter, maxCount: 1_000 });
    events.push(...page);
    if (page.length < 1_000) return events;
  }
}

async function openSink(prefix: string): Promise<PostgresDocumentSink> {
  return PostgresDocumentSink.open({ pool: db.pool, schemaName: freshName(prefix) });
}

function worker(sink: DocumentSink, batchSizeMax: number): DocumentProjectionWorker {
  return new DocumentProjectionWorker({ eventStore: store, sink, projection: casesProjection, batchSizeMax, retry: RETRY });
}

async function cleanBuild(): Promise<Record<string, StoredDocument[]>> {
  const sink = await openSink("clean");
  await worker(sink, 1_000).runUntilCaughtUp();
  return snapshotDocuments(sink, COLLECTIONS);
}

/**
 * What a double or lost push breaks, independently of a clean build: each
 * case file's kept history plus its dropped count is the number of its
 * match's events in the log, and no position is in its history twice.
 */
async function expectEveryEventOnce(documents: Record<string, StoredDocument[]>): Promise<void> {
  const perMatch = new Map<string, number>();
  for (const event of await allEvents()) {
    const matchId = (event.data as { matchId?: unknown }).matchId;
    if (typeof matchId === "string") perMatch.set(matchId, (perMatch.get(matchId) ?? 0) + 1);
  }
  const cases = documents[CASES_COLLECTION] ?? [];
  expect(cases.map((c) => c.id).sort()).toEqual([...perMatch.keys()].sort());
  for (const file of cases) {
    const history = file.body.history as { position: string }[];
    const positions = history.map((h) => h.position);
    expect(new Set(positions).size, `${file.id}: a history entry twice`).toBe(positions.length);
    expect([...positions].sort(), `${file.id}: history out of log order`).toEqual(positions);
    expect(history.length + Number(file.body.historyDropped), file.id).toBe(perMatch.get(file.id));
  }
}

describe("cases projection: given recon events, then case files", () => {
  let scenario: RecordedEvent[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 10 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    await append(ACCOUNT, SCENARIO);
    scenario = await store.readStream(reconStream(ACCOUNT));
    // A recon stream may come to hold events that are no match's story: the case files read past them.
    await append(ACCOUNT, [reconciliationEvent("BankAccountListed", { ledgerId: "L1", bankAccountId: ACCOUNT, identifiers: ["DE89370400440532013000"] })]);
    await append(ACCOUNT, generated(3, 120, "g"));
    const refusals = Array.from({ length: REFUSALS }, (_, n) => by("system:write-offs", "WriteOffRefused", { bankAccountId: BOUND_ACCOUNT, matchId: "mb", code: "PERIOD_CLOSED", message: `closed ${n}` }));
    await append(BOUND_ACCOUNT, [by("system:run", "MatchProposed", proposal("mb", { account: BOUND_ACCOUNT })), ...refusals], 50);
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  /** The scenario's n-th event (0-based) as a history entry. */
  const entry = (n: number, reason: string | null, automatic: boolean): Record<string, unknown> => {
    const event = scenario[n];
    if (event === undefined) throw new Error(`no scenario event ${n}`);
    return { type: event.type, position: event.position, at: event.recordedAt.toISOString(), actor: event.metadata.actor, reason, automatic };
  };

  it("writes each match's explanation, status, write-off and history with actors and reasons, and each run", async () => {
    const sink = await openSink("given");
    await worker(sink, 100).runUntilCaughtUp();
    const explanation = {
      runId: "run-1", kind: "1:N", ruleId: "amount-date", score: 86, ambiguous: false, currency: "EUR", residual: null,
      criteria: [{ criterion: "amount", grade: "exact", points: 0, reason: "amount exact" }, { criterion: "date", grade: "close", points: -4, reason: "value date +2 days (window 3)" }],
    };
    expect((await sink.get(CASES_COLLECTION, "m1"))?.body).toEqual({
      ...explanation, matchId: "m1", bankAccountId: ACCOUNT, externalIds: ["ext-m1"], internalIds: ["m1-e1:0", "m1-e2:0"],
      status: "unmatched", automatic: true, differenceMinor: "0", writeOff: null, writeOffStatus: null, writeOffEntryId: null, writeOffReversalEntryId: null, writeOffError: null,
      history: [entry(0, null, true), entry(1, null, true), entry(9, "paid twice, refunded", false)], historyDropped: 0,
    });
    expect((await sink.get(CASES_COLLECTION, "m2"))?.body).toMatchObject({ status: "rejected", ambiguous: true, history: [entry(2, null, true), entry(5, "another customer's payment", false)] });
    expect((await sink.get(CASES_COLLECTION, "m3"))?.body).toEqual({
      ...explanation, matchId: "m3", bankAccountId: ACCOUNT, externalIds: ["ext-m3"], internalIds: ["m3-e1:0", "m3-e2:0"],
      status: "confirmed", automatic: false, differenceMinor: "-25",
      writeOff: { amountMinor: "-25", account: "6800", date: "2026-01-31" }, writeOffStatus: "posted", writeOffEntryId: "wo_m3", writeOffReversalEntryId: null, writeOffError: null,
      history: [entry(3, null, true), entry(6, null, false), entry(7, null, false), entry(8, null, true)], historyDropped: 0,
    });
    // A clerk's manual match; the ledger refused its write-off: the requested entry stays, the refusal is the reason.
    expect((await sink.get(CASES_COLLECTION, "m4"))?.body).toMatchObject({
      runId: null, ruleId: null, status: "confirmed", writeOffStatus: "refused", writeOffEntryId: "wo_m4", writeOffReversalEntryId: null, writeOffError: "PERIOD_CLOSED: 2026-01 is closed",
      history: [entry(10, null, false), entry(11, null, false), entry(12, null, false), entry(13, "PERIOD_CLOSED: 2026-01 is closed", true)],
    });
    expect(await sink.get(RUNS_COLLECTION, "run-1")).toEqual({
      collection: RUNS_COLLECTION, id: "run-1", applied: { position: scenario[4]?.position, ordinal: 0 },
      body: {
        runId: "run-1", bankAccountId: ACCOUNT, window: { from: "2026-01-01", to: null }, items: { external: 3, internal: 6 },
        proposals: { "1:1": 0, "1:N": 3, "N:1": 0, "N:M": 0 }, autoConfirmed: 1, suggested: 2, ambiguous: 1, conflicts: 0,
        bounds: [{ bound: "candidatesPerItemMax", times: 2, detail: "2 items had more candidates than 50" }],
        actor: "clerk:ana", position: scenario[4]?.position, recordedAt: scenario[4]?.recordedAt.toISOString(),
      },
    });
    expect(await sink.count(CASES_COLLECTION)).toBe(4 + 120 + 1);
    expect(await sink.readCheckpoint(casesProjection.name)).toBe(await store.headPosition());
    await expectEveryEventOnce(await snapshotDocuments(sink, COLLECTIONS));
  });

  it("tells an auto-confirmed proposal as one entry, confirmed, with the reason", async () => {
    const documents = await cleanBuild();
    const auto = (await allEvents()).filter((e) => e.type === "MatchProposed" && (e.data as { autoConfirmed: boolean }).autoConfirmed);
    expect(auto.length).toBeGreaterThan(3);
    const files = new Map((documents[CASES_COLLECTION] ?? []).map((d) => [d.id, d.body]));
    for (const event of auto) {
      const body = files.get((event.data as { matchId: string }).matchId);
      const history = body?.history as { type: string; position: string; reason: string | null; automatic: boolean }[];
      expect(history[0]).toMatchObject({ type: "MatchProposed", position: event.position, reason: AUTO_CONFIRMED_REASON, automatic: true });
      if (history.length === 1) expect(body).toMatchObject({ status: "confirmed", automatic: true });
    }
  });

  it(`keeps the newest ${CASE_HISTORY_KEEP_LAST} history entries and counts the older ones`, async () => {
    const sink = await openSink("bound");
    await worker(sink, 64).runUntilCaughtUp();
    const stream = await store.readStream(reconStream(BOUND_ACCOUNT));
    const body = (await sink.get(CASES_COLLECTION, "mb"))?.body;
    const history = body?.history as { type: string; position: string }[];
    expect(history).toHaveLength(CASE_HISTORY_KEEP_LAST);
    expect(body?.historyDropped).toBe(REFUSALS + 1 - CASE_HISTORY_KEEP_LAST);
    // The proposal is among the dropped: the kept ones are the newest, in log order.
    expect(history.map((h) => h.position)).toEqual(stream.slice(-CASE_HISTORY_KEEP_LAST).map((e) => e.position));
    expect(body).toMatchObject({ status: "suggested", writeOffStatus: "refused" });
  });

  it("plans the same changes however the log is cut into batches: ordinals follow from each event alone", async () => {
    const events = await allEvents();
    const whole = planCaseDocuments(events);
    expect(whole).toHaveLength(events.length);
    expect(new Set(whole.map((c) => c.ordinal))).toEqual(new Set([0]));
    for (const size of [1, 3, 7]) {
      const cut = [];
      for (let at = 0; at < events.length; at += size) cut.push(...planCaseDocuments(events.slice(at, at + size)));
      expect(cut).toEqual(whole);
    }
  });

  it("makes the same documents at batch sizes 1, 3 and 100", async () => {
    const built: Record<string, StoredDocument[]>[] = [];
    for (const batchSizeMax of [1, 3, 100]) {
      const sink = await openSink(`batch${batchSizeMax}`);
      await worker(sink, batchSizeMax).runUntilCaughtUp();
      expect(await sink.readCheckpoint(casesProjection.name)).toBe(await store.headPosition());
      built.push(await snapshotDocuments(sink, COLLECTIONS));
    }
    expect(built[1]).toEqual(built[0]);
    expect(built[2]).toEqual(built[0]);
    await expectEveryEventOnce(built[0] ?? {});
  });

  it("heals crashes between the document write and the checkpoint, also after a partial write: identical to a clean build, no entry twice", async () => {
    const real = await openSink("crashed");
    const random = seededRandom(11);
    for (let round = 0; round < 8; round++) {
      // The MongoDB path: documents written (all, or only some, as when a bulk write stops), then the process dies.
      const crashing = crashingSink(real, 1 + Math.floor(random() * 4), round % 2 === 1);
      const crashed = worker(crashing, 1 + Math.floor(random() * 20));
      await expect(crashed.runUntilCaughtUp()).rejects.toBeInstanceOf(SimulatedCrash);
      expect(crashed.status).toMatchObject({ state: "failed", lastError: expect.stringContaining("SimulatedCrash") as unknown });
      // The log goes on between crashes, so each restart has both replayed and new events to apply.
      await append(ACCOUNT, generated(100 + round, 6, `r${round}_`));
    }
    await worker(real, 50).runUntilCaughtUp();
    const healed = await snapshotDocuments(real, COLLECTIONS);
    expect(healed).toEqual(await cleanBuild());
    await expectEveryEventOnce(healed);
  });
});

describe("cases projection in the registry", () => {
  it("registers beside the PostgreSQL projections; a second projection of its name or of one of its collections is refused", () => {
    const registry = new ProjectionRegistry([matchingProjection, casesProjection]);
    expect(registry.postgres()).toEqual([matchingProjection]);
    expect(registry.documents()).toEqual([casesProjection]);
    expect(() => new ProjectionRegistry([casesProjection, { ...casesProjection, collections: ["other"] }])).toThrow(/registered twice/);
    expect(() => new ProjectionRegistry([casesProjection, { ...matchingProjection, name: "cases" }])).toThrow(/registered twice/);
    expect(() => new ProjectionRegistry([casesProjection, { ...casesProjection, name: "cases_copy", collections: ["other", RUNS_COLLECTION] }])).toThrow(/both write collection runs/);
    expect(() => new ProjectionRegistry([{ ...casesProjection, collections: ["Not A Collection"] }])).toThrow(/collections\[0\]/);
    // A document projection has no schema: one named like a PostgreSQL schema clashes with nothing.
    expect(new ProjectionRegistry([matchingProjection, { ...casesProjection, name: "cases_2", collections: [matchingProjection.schemaName] }]).all()).toHaveLength(2);
  });
});
