// EventStoreDB adapter of the event-store port, on @eventstore/db-client v6.
// Same semantics as the PostgreSQL adapter (the conformance suite is the
// judge); the differences ESDB forces are handled here:
// - ESDB deduplicates appends by event id only, and silently. An append is
//   therefore followed by reading back the events at their revisions: that
//   gives the original result of a replay, and catches "same ids, different
//   content" (DuplicateEventIdError), which ESDB would accept without a word.
// - readAll in client v6 has no server-side filter (dist/streams/readAll.js
//   always sends NoFilter), so readAll scans $all in bounded pages and filters
//   here; subscribe uses the server-side filter and post-filters exactly, and
//   is pulled, so a slow consumer holds back the server (see subscription.ts).
// - $all also holds ESDB's own events ($-streams, $-types): never returned.
//
// What this adapter guarantees about event ids (ESDB's own semantics: the
// server deduplicates by event id only against the stream's recent writes,
// and only guarantees it for an exact/no-stream expected revision; with
// "any" it is best effort, and it checks the expected revision before ids):
// - an append that repeats an id within itself is DuplicateEventIdError
//   before any I/O (ESDB would store the repeats as separate events);
// - a retry with the same ids at the same expected revision is a replay with
//   the original result; the same ids with other content are
//   DuplicateEventIdError (read-back, see append);
// - NOT guaranteed: a retry at a newer expected revision, after the stream
//   moved on, is answered WrongExpectedRevision (ESDB checks the revision
//   first), and if the caller then appends at the current revision ESDB
//   writes the events a second time. Exactly-once for such a retry needs the
//   caller to look for its ids first (the command side checks the stream's
//   event ids before appending); the projections tolerate an exact duplicate.
import assert from "node:assert/strict";
import { BACKWARDS, END, EventStoreDBClient, FORWARDS, START } from "@eventstore/db-client";
import type {
  AllStreamRecordedEvent,
  AllStreamResolvedEvent,
  AllStreamSubscription,
  AppendExpectedRevision,
  AppendResult as EsdbAppendResult,
  Direction,
  EventData,
  ReadPosition,
  ReadRevision,
  ResolvedEvent,
} from "@eventstore/db-client";
import type { EventId, StreamName } from "@trueup/contracts";
import { parseStreamName } from "@trueup/contracts";
import { DuplicateEventIdError, StoreUnavailableError, StreamNotFoundError, WrongExpectedRevisionError, checkBufferEventsMax } from "../port.ts";
import type { AppendResult, EventStore, EventStoreCapabilities, EventSubscription, VisibilityReport, ExpectedRevision, NewEvent, Position, ReadAllOptions, ReadStreamOptions, RecordedEvent, SubscribeOptions } from "../port.ts";
import { collect, withTimeout } from "./bounded.ts";
import { mapAppendError, mapEsdbError, mapReadStreamError } from "./errors.ts";
import {
  checkAppend,
  checkCount,
  checkFilter,
  firstRevisionOf,
  fromEsdbPosition,
  isSystemRecord,
  pickMatching,
  sameContent,
  toEsdbExpectedRevision,
  toEsdbPosition,
  toEventData,
  toRecordedEvent,
  toServerFilter,
} from "./mapping.ts";
import type { EsdbRecord } from "./mapping.ts";
import { EsdbSubscription, highWaterMarkFor } from "./subscription.ts";

export const APPEND_TIMEOUT_MS_DEFAULT = 10_000;
/** Our own append timer fires this long after the server deadline: it only catches a client that never answers. */
const APPEND_TIMER_SLACK_MS = 1_000;
export const READ_TIMEOUT_MS_DEFAULT = 30_000;
/** Events per $all page when readAll scans: bounds the memory of one page. */
export const SCAN_PAGE_EVENTS = 1000;
/** headPosition looks back at most HEAD_PAGE_EVENTS × HEAD_PAGES_MAX events for one that is not ESDB's own. */
export const HEAD_PAGE_EVENTS = 500;
export const HEAD_PAGES_MAX = 20;
/** How far back readEventById looks before it gives up (see there). */
export const READ_BY_ID_SCAN_EVENTS_MAX = 1_000_000;

export interface EventStoreDbEventStoreOptions {
  /** An `esdb://…` connection string, or a client. The store owns it either way and disposes it in close(). */
  readonly connection: string | EventStoreDBClient;
  /** Bound on one append call: sent as the server deadline, and enforced by our own timer. */
  readonly appendTimeoutMs?: number;
  /** Bound on one read call (one page). */
  readonly readTimeoutMs?: number;
}

type Revision = bigint | "no-stream";

export class EventStoreDbEventStore implements EventStore {
  /** No transactional append: ESDB has no transaction to put a companion write or a guard in. */
  readonly capabilities: EventStoreCapabilities = {};
  private readonly client: EventStoreDBClient;
  private readonly appendTimeoutMs: number;
  private readonly readTimeoutMs: number;

  constructor(options: EventStoreDbEventStoreOptions) {
    this.client = typeof options.connection === "string" ? EventStoreDBClient.connectionString(options.connection) : options.connection;
    this.appendTimeoutMs = options.appendTimeoutMs ?? APPEND_TIMEOUT_MS_DEFAULT;
    this.readTimeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS_DEFAULT;
  }

  /** Opens nothing yet: the client connects on first use, so this cannot fail on an unreachable server. */
  static connect(connectionString: string, options: Omit<EventStoreDbEventStoreOptions, "connection"> = {}): EventStoreDbEventStore {
    return new EventStoreDbEventStore({ ...options, connection: connectionString });
  }

  /**
   * Probe the stream's revision, append, then read back the events at their
   * revisions. The read-back gives the result (so a replay answers with the
   * original position, and `position` is what readStream reports for the last
   * event) and catches "same ids, different content": ESDB checks idempotency
   * by event id alone and would answer such an append with success.
   *
   * Replay detection. ESDB answers an identical retry with success and writes
   * nothing. We call it a replay when either
   * (a) the stream already reached the events' first revision before we
   *     appended (ESDB never rewrites a revision, so nothing new was written), or
   * (b) the server reported no log position: ESDB completes an idempotent
   *     write with position -1, which gRPC sends as `no_position`.
   * (a) covers servers that do report a position for a replay; (b) covers a
   * retry that raced its original between our probe and our append.
   */
  async append(stream: StreamName, events: readonly NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    checkAppend(stream, events);
    const expected = options.expectedRevision;
    const esdbExpected = toEsdbExpectedRevision(expected);
    const data = events.map(toEventData);
    const before = await this.currentRevision(stream);
    const written = await this.write(stream, data, { expected, esdbExpected });
    const first = firstRevisionOf(expected, written.nextExpectedRevision, events.length);
    const stored = await this.readRange(stream, first, events.length);
    const replayed = (before !== "no-stream" && before >= first) || written.position === undefined;
    return this.checkStored(stream, events, stored, replayed);
  }

  private async write(
    stream: StreamName,
    data: EventData[],
    { expected, esdbExpected }: { expected: ExpectedRevision; esdbExpected: AppendExpectedRevision },
  ): Promise<EsdbAppendResult> {
    let result: EsdbAppendResult;
    try {
      const call = this.client.appendToStream(stream, data, { expectedRevision: esdbExpected, deadline: this.appendTimeoutMs });
      result = await withTimeout(call, { timeoutMs: this.appendTimeoutMs + APPEND_TIMER_SLACK_MS, what: `append to ${stream}` });
    } catch (error) {
      throw mapAppendError(error, stream, expected);
    }
    // Only a client built with throwOnAppendFailure=false answers a conflict this way,
    // and its batch-append path misreports the actual revision: look it up instead.
    if (!result.success) throw new WrongExpectedRevisionError(stream, expected, await this.currentRevision(stream));
    return result;
  }

  /**
   * The stored events must be ours (ids: a broken invariant otherwise) with
   * the same content (a fresh write always is; a retry ESDB accepted by id
   * alone may not be, and then nothing was written: DuplicateEventId).
   */
  private checkStored(stream: StreamName, events: readonly NewEvent[], stored: RecordedEvent[], replayed: boolean): AppendResult {
    assert.equal(stored.length, events.length, `append to ${stream}: read back ${stored.length} of ${events.length} events`);
    assert.deepEqual(
      stored.map((e) => e.eventId),
      events.map((e) => e.eventId),
      `append to ${stream}: the events at the reported revisions are not the appended ones`,
    );
    const differing = events.filter((event, i) => stored[i] === undefined || !sameContent(stored[i], event));
    if (differing.length > 0) throw new DuplicateEventIdError(stream, differing.map((e) => e.eventId));
    const last = stored[stored.length - 1];
    assert.ok(last !== undefined);
    return { nextExpectedRevision: last.revision, position: last.position, replayed };
  }

  private async currentRevision(stream: StreamName): Promise<Revision> {
    try {
      const [last] = await this.readRecords(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
      return last?.revision ?? "no-stream";
    } catch (error) {
      if (error instanceof StreamNotFoundError) return "no-stream";
      throw error;
    }
  }

  private async readRange(stream: StreamName, first: bigint, count: number): Promise<RecordedEvent[]> {
    const records = await this.readRecords(stream, { direction: FORWARDS, fromRevision: first, maxCount: count });
    return records.map(toRecordedEvent);
  }

  async readStream(stream: StreamName, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const count = checkCount(options.maxCount);
    if (options.fromRevision !== undefined && options.fromRevision < 0n) throw new RangeError(`fromRevision must be >= 0, got ${options.fromRevision}`);
    // A name that is not ours (say "$all") cannot hold port events.
    if (parseStreamName(stream) === undefined) throw new StreamNotFoundError(stream);
    const backwards = options.direction === "backwards";
    const records = await this.readRecords(stream, {
      direction: backwards ? BACKWARDS : FORWARDS,
      fromRevision: options.fromRevision ?? (backwards ? END : START),
      maxCount: count,
    });
    return records.map(toRecordedEvent);
  }

  /** One bounded stream read; StreamNotFound from the client becomes the port's. */
  private async readRecords(stream: StreamName, options: { direction: Direction; fromRevision: ReadRevision; maxCount: number }): Promise<EsdbRecord[]> {
    try {
      const read = this.client.readStream(stream, { ...options, resolveLinkTos: false });
      const resolved = await collect<ResolvedEvent>(read, { timeoutMs: this.readTimeoutMs, countMax: options.maxCount });
      return resolved.map((r) => requireRecord(r.event, stream));
    } catch (error) {
      throw mapReadStreamError(error, stream);
    }
  }

  /**
   * Scans $all forwards in pages of SCAN_PAGE_EVENTS until `maxCount` events
   * match or the log ends. Each page is bounded in size and time; the number
   * of pages is not: a filter that matches nothing reads to the end of the
   * log, because returning early would tell the caller it had caught up.
   */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const count = checkCount(options.maxCount);
    checkFilter(options.filter);
    // Without a filter, count + 1 covers the event at `after`, which the inclusive read returns again.
    const pageEvents = options.filter === undefined ? Math.min(count + 1, SCAN_PAGE_EVENTS) : SCAN_PAGE_EVENTS;
    const found: RecordedEvent[] = [];
    let after = options.after;
    for (;;) {
      const records = await this.readAllRecords({ fromPosition: after === undefined ? START : toEsdbPosition(after), direction: FORWARDS, maxCount: pageEvents });
      const page = pickMatching(records, { after, filter: options.filter, countMax: count - found.length });
      found.push(...page.events);
      if (found.length === count || records.length < pageEvents) return found;
      // A full page holds at most one record at `after`, so a page of >= 2 always moves on.
      assert.ok(page.lastSeen !== undefined && (after === undefined || page.lastSeen > after), "readAll made no progress");
      after = page.lastSeen;
    }
  }

  private async readAllRecords(options: { fromPosition: ReadPosition; direction: Direction; maxCount: number }): Promise<AllStreamRecordedEvent[]> {
    try {
      const read = this.client.readAll({ ...options, resolveLinkTos: false });
      const resolved = await collect<AllStreamResolvedEvent>(read, { timeoutMs: this.readTimeoutMs, countMax: options.maxCount });
      return resolved.map((r) => requireRecord(r.event, "$all"));
    } catch (error) {
      throw mapEsdbError(error);
    }
  }

  /**
   * The newest event of ours, reading $all backwards past ESDB's own events
   * ($stats are written every 30 s by default, so an idle log ends in them).
   * Bounded: if the newest HEAD_PAGE_EVENTS × HEAD_PAGES_MAX events are all
   * system events, this fails loudly rather than guess.
   */
  /** ESDB shows a committed event to every reader at once: nothing is ever held back. */
  async visibility(): Promise<VisibilityReport> {
    const head = await this.headPosition();
    return { newestCommitted: head, newestVisible: head, heldBackEvents: 0 };
  }

  /**
   * EventStoreDB has no index by event id: this scans $all backwards from
   * the end (a fixed id is usually recent: a reversal follows its entry),
   * in pages of SCAN_PAGE_EVENTS, for at most READ_BY_ID_SCAN_EVENTS_MAX
   * events. Beyond that it fails loudly (StoreUnavailableError) rather than
   * answer "not found" for an event it did not look at. Cost: O(events
   * since the one sought). A deployment that reverses old entries on
   * EventStoreDB needs an id index (a projection to a stream per id).
   */
  async readEventById(eventId: EventId): Promise<RecordedEvent | undefined> {
    const wanted = eventId.toLowerCase();
    let before: Position | undefined;
    for (let scanned = 0; scanned < READ_BY_ID_SCAN_EVENTS_MAX; scanned += SCAN_PAGE_EVENTS) {
      const records = await this.readAllRecords({ fromPosition: before === undefined ? END : toEsdbPosition(before), direction: BACKWARDS, maxCount: SCAN_PAGE_EVENTS });
      for (const record of records) {
        const position = fromEsdbPosition(record.position);
        if (before !== undefined && position >= before) continue;
        before = position;
        if (!isSystemRecord(record) && record.id.toLowerCase() === wanted) return toRecordedEvent(record);
      }
      if (records.length < SCAN_PAGE_EVENTS) return undefined;
    }
    throw new StoreUnavailableError(`event ${eventId} not among the newest ${READ_BY_ID_SCAN_EVENTS_MAX} events; EventStoreDB has no id index to look further`);
  }

  async headPosition(): Promise<Position | undefined> {
    let before: Position | undefined;
    for (let page = 0; page < HEAD_PAGES_MAX; page++) {
      const records = await this.readAllRecords({ fromPosition: before === undefined ? END : toEsdbPosition(before), direction: BACKWARDS, maxCount: HEAD_PAGE_EVENTS });
      for (const record of records) {
        const position = fromEsdbPosition(record.position);
        if (before !== undefined && position >= before) continue;
        if (!isSystemRecord(record)) return position;
        before = position;
      }
      if (records.length < HEAD_PAGE_EVENTS) return undefined;
    }
    throw new Error(`headPosition: the newest ${HEAD_PAGE_EVENTS * HEAD_PAGES_MAX} events of $all are all EventStoreDB system events`);
  }

  /** A catch-up subscription to $all with the server-side filter, pulled: see EsdbSubscription. */
  /** A subscription from `after` that stops at its first event: EventStoreDB pushes that one event, data and all. */
  async waitForAppend(after: Position | undefined, options: { readonly signal?: AbortSignal | undefined } = {}): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    const subscription = this.subscribe({ after, bufferEventsMax: 1 });
    const onAbort = (): void => {
      void subscription.close();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await subscription.next();
      signal?.throwIfAborted();
    } finally {
      signal?.removeEventListener("abort", onAbort);
      await subscription.close();
    }
  }

  subscribe(options: SubscribeOptions = {}): EventSubscription {
    checkFilter(options.filter);
    const bufferEventsMax = checkBufferEventsMax(options.bufferEventsMax);
    const after = options.after;
    let stream: AllStreamSubscription;
    try {
      stream = this.client.subscribeToAll(
        { fromPosition: after === undefined ? START : toEsdbPosition(after), filter: toServerFilter(options.filter), resolveLinkTos: false },
        { highWaterMark: highWaterMarkFor(bufferEventsMax) },
      );
    } catch (error) {
      throw mapEsdbError(error);
    }
    return new EsdbSubscription(stream, { after, filter: options.filter, mapError: mapEsdbError });
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }
}

/** Reads without link resolution always carry the record itself. */
function requireRecord<R>(record: R | undefined, stream: string): R {
  assert.ok(record !== undefined, `read of ${stream} returned an entry without an event`);
  return record;
}
