// Proves the item case files (projections/src/cases/items.ts) over a real
// PostgresEventStore and the PostgreSQL document sink — given near misses in
// a `nearmisses-` stream and decisions in a `recon-` stream, then documents:
// - an item's case file holds the last run's near misses (a later run's
//   replace them whole; an event naming an item twice applies both, in
//   order, by ordinal), the decisions that touched it in log order with
//   actor and reason (a match of it rejected or unmatched, its exception
//   resolved or reassigned) and how an exception settled it;
// - a rejection or unmatch recorded before events carried their items
//   changes no item case file, and a proposal is none of its business;
// - the history is bounded (ITEM_CASE_HISTORY_KEEP_LAST), the rest counted;
// - the same documents at every batch size, and after crashes between the
//   document write and the checkpoint (also a partial write);
// - an exception id that names no item stops the worker, naming the event.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exceptionIdOf, nearMissStream, reconStream } from "@trueup/contracts";
import type { ReconciliationEventType, StreamName } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import type { NewEvent, RecordedEvent } from "@trueup/event-store";
import { DocumentProjectionWorker, ITEM_CASES_COLLECTION, ITEM_CASE_HISTORY_KEEP_LAST, PostgresDocumentSink, itemCaseId, itemCasesProjection, planItemCaseDocuments } from "../src/index.ts";
import type { DocumentSink, StoredDocument } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { reconciliationEvent } from "../../test-support/reconciliation-events.ts";
import { seededRandom } from "../../test-support/random.ts";
import { freshName, snapshotDocuments } from "./documents/conformance.ts";
import { SimulatedCrash, crashingSink } from "./documents/fixtures/ledger-documents.ts";

const ACCOUNT = "items_bank";
const BOUND_ACCOUNT = "items_bound";
const RETRY = { attemptsMax: 3, delayFirstMs: 5, delayMaxMs: 50 } as const;
const COLLECTIONS = itemCasesProjection.collections;

type Data<T extends ReconciliationEventType> = Parameters<typeof reconciliationEvent<T>>[1];

function by<T extends ReconciliationEventType>(actor: string, type: T, data: Data<T>): NewEvent {
  const event = reconciliationEvent(type, data);
  return { ...event, metadata: { ...event.metadata, actor } };
}

const candidate = (itemIds: string[], score: number, failures: string[]) => ({ itemIds, score, failures });
const aged = (side: "external" | "internal", itemId: string, account = ACCOUNT): string => exceptionIdOf({ bankAccountId: account, kind: "aged", side, itemId });

let db: TestDatabase;
let store: PostgresEventStore;

async function openSink(prefix: string): Promise<PostgresDocumentSink> {
  return PostgresDocumentSink.open({ pool: db.pool, schemaName: freshName(prefix) });
}

function worker(sink: DocumentSink, batchSizeMax: number): DocumentProjectionWorker {
  return new DocumentProjectionWorker({ eventStore: store, sink, projection: itemCasesProjection, batchSizeMax, retry: RETRY });
}

async function allEvents(): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after: events[events.length - 1]?.position, filter: itemCasesProjection.filter, maxCount: 1_000 });
    events.push(...page);
    if (page.length < 1_000) return events;
  }
}

/** Random decisions and near misses over a few items of `account`, so batch boundaries fall everywhere. */
async function appendGenerated(seed: number, count: number, account = ACCOUNT): Promise<void> {
  const random = seededRandom(seed);
  const item = (): string => `x${Math.floor(random() * 12)}`;
  for (let n = 0; n < count; n++) {
    const roll = random();
    if (roll < 0.4) {
      const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({ side: random() < 0.5 ? ("external" as const) : ("internal" as const), itemId: item(), candidates: [candidate([`c${n}:0`], Math.floor(random() * 80), [`miss ${n}`])] }));
      await store.append(nearMissStream(account), [by("system:run", "NearMissesRecorded", { bankAccountId: account, runId: `run-g${seed}-${n}`, items })], { expectedRevision: "any" });
    } else if (roll < 0.8) {
      const type = roll < 0.6 ? "MatchRejected" : "MatchUnmatched";
      await store.append(reconStream(account), [by("clerk:g", type, { bankAccountId: account, matchId: `${account}:g${seed}-${n}`, reason: `generated ${n}`, externalIds: [item()], internalIds: [`${item()}:0`] })], { expectedRevision: "any" });
    } else {
      await store.append(reconStream(account), [by("clerk:g", "ExceptionReassigned", { bankAccountId: account, exceptionId: aged("external", item(), account), assignee: `clerk:${n}`, reason: null })], { expectedRevision: "any" });
    }
  }
}

/** Each case file's kept history plus its dropped count is the number of decisions naming its item; no position twice. */
async function expectEveryDecisionOnce(documents: Record<string, StoredDocument[]>): Promise<void> {
  const expected = new Map<string, number>();
  for (const change of planItemCaseDocuments(await allEvents())) if (change.push !== undefined) expected.set(change.id, (expected.get(change.id) ?? 0) + 1);
  for (const file of documents[ITEM_CASES_COLLECTION] ?? []) {
    const history = (file.body.history ?? []) as { position: string }[];
    const positions = history.map((h) => h.position);
    expect(new Set(positions).size, `${file.id}: a history entry twice`).toBe(positions.length);
    expect(history.length + Number(file.body.historyDropped ?? 0), file.id).toBe(expected.get(file.id) ?? 0);
  }
}

describe("item cases projection: given near misses and decisions, then item case files", () => {
  let recorded: RecordedEvent[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 10 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    const legacyUnmatch = reconciliationEvent("MatchUnmatched", { bankAccountId: ACCOUNT, matchId: `${ACCOUNT}:old`, reason: "recorded before ids", externalIds: [], internalIds: [] });
    const steps: [StreamName, NewEvent][] = [
      [nearMissStream(ACCOUNT), by("system:run", "NearMissesRecorded", {
        bankAccountId: ACCOUNT, runId: "run-1",
        items: [
          { side: "external", itemId: "ref:A#1", candidates: [candidate(["s1:0"], 61, ["amount-date: value date 6 days apart (window 3)"]), candidate(["s2:0"], 20, ["amount differs"])] },
          { side: "internal", itemId: "s9:0", candidates: [] },
        ],
      })],
      // A proposal is the matches' case file's story, not the item's: the filter leaves it out.
      [reconStream(ACCOUNT), by("system:run", "MatchProposed", {
        bankAccountId: ACCOUNT, matchId: `${ACCOUNT}:m1`, runId: "run-1", kind: "1:1", externalIds: ["ref:B#1"], internalIds: ["s3:0"], currency: "EUR", ruleId: "amount-date", score: 80,
        criteria: [], differenceMinor: "0", writeOff: null, residual: null, ambiguous: false, learned: [], autoConfirmed: false,
      })],
      [reconStream(ACCOUNT), by("clerk:bo", "MatchRejected", { bankAccountId: ACCOUNT, matchId: `${ACCOUNT}:m1`, reason: "another customer's payment", externalIds: ["ref:B#1"], internalIds: ["s3:0"] })],
      [reconStream(ACCOUNT), { ...legacyUnmatch, data: { bankAccountId: ACCOUNT, matchId: `${ACCOUNT}:old`, reason: "recorded before ids" } }],
      [nearMissStream(ACCOUNT), by("system:run", "NearMissesRecorded", {
        bankAccountId: ACCOUNT, runId: "run-2",
        // Twice in one event: both apply, in order (ordinals 0 and 1); the second stands.
        items: [
          { side: "external", itemId: "ref:A#1", candidates: [candidate(["s1:0"], 64, ["first"])] },
          { side: "external", itemId: "ref:A#1", candidates: [candidate(["s1:0"], 65, ["second"])] },
        ],
      })],
      [reconStream(ACCOUNT), by("clerk:cy", "MatchUnmatched", { bankAccountId: ACCOUNT, matchId: `${ACCOUNT}:m7`, reason: "paid twice", externalIds: ["ref:A#1"], internalIds: ["s1:0", "s2:0"] })],
      [reconStream(ACCOUNT), by("clerk:dee", "ExceptionReassigned", { bankAccountId: ACCOUNT, exceptionId: aged("internal", "s9:0"), assignee: "clerk:eve", reason: "ask sales" })],
      [reconStream(ACCOUNT), by("clerk:eve", "ItemResolved", {
        bankAccountId: ACCOUNT, exceptionId: aged("internal", "s9:0"), kind: "aged", side: "internal", itemId: "s9:0", resolution: "write-off", reason: "never paid",
        writeOff: { amountMinor: "-3000", ledgerAccount: "6800", date: "2026-01-31" },
      })],
    ];
    for (const [stream, event] of steps) await store.append(stream, [event], { expectedRevision: "any" });
    recorded = (await allEvents()).filter((e) => e.type !== "MatchProposed");
    const reassignments = Array.from({ length: ITEM_CASE_HISTORY_KEEP_LAST + 5 }, (_, n) => by("clerk:x", "ExceptionReassigned", { bankAccountId: BOUND_ACCOUNT, exceptionId: aged("external", "busy", BOUND_ACCOUNT), assignee: `clerk:${n}`, reason: null }));
    for (let at = 0; at < reassignments.length; at += 50) await store.append(reconStream(BOUND_ACCOUNT), reassignments.slice(at, at + 50), { expectedRevision: "any" });
    await appendGenerated(5, 60);
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  const at = (n: number): RecordedEvent => {
    const event = recorded[n];
    if (event === undefined) throw new Error(`no scenario event ${n}`);
    return event;
  };
  const decision = (n: number, fields: { reason: string | null; matchId: string | null; exceptionId: string | null; detail: string | null }): Record<string, unknown> => ({
    type: at(n).type, position: at(n).position, at: at(n).recordedAt.toISOString(), actor: at(n).metadata.actor, ...fields,
  });

  it("keeps the last run's near misses, the decisions that touched the item, and its resolution", async () => {
    const sink = await openSink("given");
    await worker(sink, 100).runUntilCaughtUp();
    const file = async (side: "external" | "internal", itemId: string) => (await sink.get(ITEM_CASES_COLLECTION, itemCaseId(ACCOUNT, side, itemId)))?.body;
    // recorded: 0 near misses run-1, 1 reject m1, 2 legacy unmatch, 3 near misses run-2, 4 unmatch m7, 5 reassign, 6 resolve.
    expect(await file("external", "ref:A#1")).toEqual({
      bankAccountId: ACCOUNT, side: "external", itemId: "ref:A#1",
      nearMisses: { runId: "run-2", position: at(3).position, at: at(3).recordedAt.toISOString(), candidates: [candidate(["s1:0"], 65, ["second"])] },
      history: [decision(4, { reason: "paid twice", matchId: `${ACCOUNT}:m7`, exceptionId: null, detail: null })],
      historyDropped: 0,
    });
    expect(await file("internal", "s3:0")).toMatchObject({ history: [decision(1, { reason: "another customer's payment", matchId: `${ACCOUNT}:m1`, exceptionId: null, detail: null })] });
    expect(await file("external", "ref:B#1")).toMatchObject({ history: [decision(1, { reason: "another customer's payment", matchId: `${ACCOUNT}:m1`, exceptionId: null, detail: null })] });
    expect((await file("external", "ref:B#1"))?.nearMisses).toBeUndefined();
    const written = await file("internal", "s9:0");
    expect(written).toMatchObject({
      nearMisses: { runId: "run-1", candidates: [] },
      resolution: { exceptionId: aged("internal", "s9:0"), kind: "aged", resolution: "write-off", reason: "never paid", writeOff: { amountMinor: "-3000", account: "6800", date: "2026-01-31" }, position: at(6).position, actor: "clerk:eve" },
      history: [
        decision(5, { reason: "ask sales", matchId: null, exceptionId: aged("internal", "s9:0"), detail: "clerk:eve" }),
        decision(6, { reason: "never paid", matchId: null, exceptionId: aged("internal", "s9:0"), detail: "write-off" }),
      ],
    });
    // Items of the unmatch that are only its: s1:0 and s2:0 have a case file with that one decision.
    expect((await file("internal", "s2:0"))?.history).toEqual([decision(4, { reason: "paid twice", matchId: `${ACCOUNT}:m7`, exceptionId: null, detail: null })]);
    // The legacy unmatch named no items and a proposal is not read: no case file for the proposal's items beyond the reject.
    expect(await sink.count(ITEM_CASES_COLLECTION, { bankAccountId: ACCOUNT })).toBeGreaterThanOrEqual(6);
    const bound = (await sink.get(ITEM_CASES_COLLECTION, itemCaseId(BOUND_ACCOUNT, "external", "busy")))?.body;
    expect(bound?.history).toHaveLength(ITEM_CASE_HISTORY_KEEP_LAST);
    expect(bound?.historyDropped).toBe(5);
    expect((bound?.history as { detail: string }[]).at(-1)?.detail).toBe(`clerk:${ITEM_CASE_HISTORY_KEEP_LAST + 4}`);
  });

  it("plans the same changes however the log is cut into batches, with ordinals from each event alone", async () => {
    const events = await allEvents();
    const whole = planItemCaseDocuments(events);
    const twice = planItemCaseDocuments(recorded).filter((c) => c.ordinal === 1);
    expect(twice.map((c) => c.id)).toEqual([itemCaseId(ACCOUNT, "external", "ref:A#1")]);
    for (const size of [1, 3, 7]) {
      const cut = [];
      for (let n = 0; n < events.length; n += size) cut.push(...planItemCaseDocuments(events.slice(n, n + size)));
      expect(cut).toEqual(whole);
    }
  });

  it("makes the same documents at batch sizes 1, 3 and 100, and heals crashes between the write and the checkpoint", async () => {
    const built: Record<string, StoredDocument[]>[] = [];
    for (const batchSizeMax of [1, 3, 100]) {
      const sink = await openSink(`batch${batchSizeMax}`);
      await worker(sink, batchSizeMax).runUntilCaughtUp();
      built.push(await snapshotDocuments(sink, COLLECTIONS));
    }
    expect(built[1]).toEqual(built[0]);
    expect(built[2]).toEqual(built[0]);
    await expectEveryDecisionOnce(built[0] ?? {});

    const real = await openSink("crashed");
    const random = seededRandom(17);
    for (let round = 0; round < 6; round++) {
      // The MongoDB path: documents written (all, or only some, as when a bulk write stops), then the process dies.
      const crashing = crashingSink(real, 1 + Math.floor(random() * 4), round % 2 === 1);
      await expect(worker(crashing, 1 + Math.floor(random() * 10)).runUntilCaughtUp()).rejects.toBeInstanceOf(SimulatedCrash);
      await appendGenerated(100 + round, 5);
    }
    await worker(real, 50).runUntilCaughtUp();
    const healed = await snapshotDocuments(real, COLLECTIONS);
    const clean = await openSink("clean");
    await worker(clean, 1_000).runUntilCaughtUp();
    expect(healed).toEqual(await snapshotDocuments(clean, COLLECTIONS));
    await expectEveryDecisionOnce(healed);
  });

  it("stops on a reassignment whose exception id names no item, naming the event", async () => {
    const other = await createTestDatabase({ poolMax: 4 });
    const otherStore = await PostgresEventStore.open({ pool: other.pool, listenConnection: other.config });
    let sink: PostgresDocumentSink | undefined;
    try {
      // Fits the exception id's pattern, but its base64url part decodes to nothing: no item.
      await otherStore.append(reconStream(ACCOUNT), [by("clerk:x", "ExceptionReassigned", { bankAccountId: ACCOUNT, exceptionId: `${ACCOUNT}~aged~external~A`, assignee: "clerk:y", reason: null })], { expectedRevision: "no-stream" });
      sink = await PostgresDocumentSink.open({ pool: other.pool, schemaName: freshName("broken") });
      const failing = new DocumentProjectionWorker({ eventStore: otherStore, sink, projection: itemCasesProjection, batchSizeMax: 10, retry: RETRY });
      await expect(failing.runUntilCaughtUp()).rejects.toThrow(/names no item/);
      expect(failing.status).toMatchObject({ state: "failed", lastError: expect.stringContaining("names no item") as unknown });
      expect(await sink.readCheckpoint(itemCasesProjection.name)).toBeUndefined();
    } finally {
      await sink?.close();
      await otherStore.close();
      await other.drop();
    }
  });
});
