// The event-store port: what command handlers, projections and auditors need
// from a log, and nothing more. Adapters (PostgreSQL, EventStoreDB) implement
// it and map their drivers' errors to the errors below.
import { Observable } from "rxjs";
import type { Brand, EventId, EventMetadata, JsonValue, StreamName } from "@trueup/contracts";

/**
 * A global log position. Opaque to callers, but totally ordered by plain
 * string comparison (both adapters encode fixed-width hex), and safe to store
 * as a checkpoint. `readAll({ after })` returns events strictly after it.
 */
export type Position = Brand<string, "Position">;
export const POSITION_PATTERN = /^[0-9a-f]{32}$/;

export function parsePosition(value: string): Position | undefined {
  return POSITION_PATTERN.test(value) ? (value as Position) : undefined;
}

export function comparePositions(a: Position, b: Position): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Encodes two unsigned 64-bit numbers (major, minor) as a sortable position. */
export function encodePosition(major: bigint, minor: bigint): Position {
  if (major < 0n || minor < 0n || major >= 2n ** 64n || minor >= 2n ** 64n) {
    throw new RangeError(`position component out of range: ${major}/${minor}`);
  }
  return (major.toString(16).padStart(16, "0") + minor.toString(16).padStart(16, "0")) as Position;
}

export function decodePosition(position: Position): { major: bigint; minor: bigint } {
  return { major: BigInt(`0x${position.slice(0, 16)}`), minor: BigInt(`0x${position.slice(16)}`) };
}

/** What a caller asserts about a stream before appending to it. */
export type ExpectedRevision = "no-stream" | "exists" | "any" | bigint;

/**
 * Event data handed over already serialized: JSON text the writer vouches for
 * (JSON.stringify output, or a concatenation of such). A writer that holds
 * its data as JSON text (an import's line spool: hundreds of kilobytes per
 * event) appends it without parsing it and serializing it again. Text that is
 * not JSON, or that no store can hold, is refused as with any data
 * (InvalidAppendError); what is recorded and read back is the parsed value.
 * The store does not re-check that the text is exactly one value (that would
 * cost the parse this saves): it must never be built from anything but
 * serializer output. Even then it cannot change the event's id, type,
 * version or metadata.
 */
export class SerializedJson {
  /** The text, or its UTF-8 bytes (a Buffer over the same memory when handed a Uint8Array). */
  readonly json: string | Buffer;

  /** `json`: the text, or its UTF-8 bytes: a writer holding them as read from a file hands them over without decoding them. */
  constructor(json: string | Uint8Array) {
    this.json = typeof json === "string" || Buffer.isBuffer(json) ? json : Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  }

  /** The JSON text. */
  text(): string {
    return typeof this.json === "string" ? this.json : this.json.toString("utf8");
  }
}

interface EventFields {
  readonly eventId: EventId;
  readonly type: string;
  readonly schemaVersion: number;
  readonly metadata: EventMetadata;
}

export interface NewEvent extends EventFields {
  readonly data: JsonValue | SerializedJson;
}

export interface RecordedEvent extends EventFields {
  readonly data: JsonValue;
  readonly streamName: StreamName;
  /** 0-based revision of the event within its stream. */
  readonly revision: bigint;
  readonly position: Position;
  readonly recordedAt: Date;
}

export interface AppendResult {
  /** Revision of the last event written: pass it as `expectedRevision` next time. */
  readonly nextExpectedRevision: bigint;
  /** Global position of the last event written. */
  readonly position: Position;
  /** True when these exact events were already in the stream: nothing was written. */
  readonly replayed: boolean;
}

export interface EventFilter {
  /** Stream categories (`account` matches `account-…`). */
  readonly categories?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadStreamOptions {
  readonly direction?: "forwards" | "backwards";
  /** Start at this revision (inclusive). Default: first (forwards) or last (backwards). */
  readonly fromRevision?: bigint;
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive lower bound; omitted means from the very start of the log. */
  readonly after?: Position | undefined;
  readonly filter?: EventFilter | undefined;
  readonly maxCount?: number;
  /**
   * Also return committed events a running transaction still holds back (see
   * VisibilityReport). For measuring lag only: an event with a lower
   * position may still commit before them, so never checkpoint past one.
   */
  readonly includeHeldBack?: boolean | undefined;
}

/**
 * How much of the committed log readers can see. In PostgreSQL a reader only
 * looks below the oldest running transaction (see the adapter), so one
 * transaction left open anywhere on the server holds every newer event back:
 * this says how many, since when and who. Stores without such a horizon
 * report newestVisible = newestCommitted and nothing held.
 */
export interface VisibilityReport {
  /** Newest committed event, whether readers see it yet or not. */
  readonly newestCommitted: Position | undefined;
  /** Newest event readAll and subscribe deliver (headPosition()). */
  readonly newestVisible: Position | undefined;
  /** Committed events not yet visible, counted up to VISIBILITY_COUNT_MAX. */
  readonly heldBackEvents: number;
  /** The transaction holding the horizon, when events are held back and the server says who. */
  readonly holder?: HorizonHolder | undefined;
}

export interface HorizonHolder {
  readonly pid: number;
  readonly applicationName: string;
  /** pg_stat_activity.state, e.g. "idle in transaction"; empty when the server hides it from our role. */
  readonly state: string;
  readonly transactionStartedAt: Date | undefined;
  /** How long the holder's transaction has been open, by the server's clock. */
  readonly heldForMs: number;
}

/** Counting held-back events stops here. */
export const VISIBILITY_COUNT_MAX = 10_000;

export interface SubscribeOptions {
  readonly after?: Position | undefined;
  readonly filter?: EventFilter | undefined;
  /**
   * At most this many events read from the store and not yet taken by the
   * consumer (see EventSubscription.bufferedEvents). The store reads ahead
   * only as far as this; a slow consumer slows the reads, never grows the
   * buffer. 1..SUBSCRIBE_BUFFER_EVENTS_LIMIT, default SUBSCRIBE_BUFFER_EVENTS_DEFAULT.
   */
  readonly bufferEventsMax?: number | undefined;
}

export const SUBSCRIBE_BUFFER_EVENTS_DEFAULT = 1000;
/** Upper bound on a subscription's buffer: one read's worth. */
export const SUBSCRIBE_BUFFER_EVENTS_LIMIT = 10_000;

export function checkBufferEventsMax(bufferEventsMax: number | undefined): number {
  const bound = bufferEventsMax ?? SUBSCRIBE_BUFFER_EVENTS_DEFAULT;
  if (!Number.isInteger(bound) || bound < 1 || bound > SUBSCRIBE_BUFFER_EVENTS_LIMIT) {
    throw new RangeError(`bufferEventsMax must be an integer in 1..${SUBSCRIBE_BUFFER_EVENTS_LIMIT}, got ${bound}`);
  }
  return bound;
}

/**
 * A pulled subscription: catches up from `after`, then stays live, every
 * event exactly once, in position order, at the consumer's pace. `next()`
 * waits for the next event; calls must not overlap (for-await never does).
 * It rejects with the port's errors (StoreUnavailableError: resubscribe from
 * the last checkpoint), and resolves `done` once closed. Breaking out of a
 * for-await loop closes it.
 */
export interface EventSubscription extends AsyncIterableIterator<RecordedEvent> {
  /** Events read from the store and not yet handed to the consumer: never above bufferEventsMax. */
  readonly bufferedEvents: number;
  /** Stops reading; a pending next() resolves `done`. Idempotent. */
  close(): Promise<void>;
}

/**
 * The iterator protocol every adapter's subscription shares: one next() at a
 * time (a second concurrent call is a caller bug, refused loudly), return()
 * closes. An adapter supplies pull() (the next event, or done) and close().
 */
export abstract class PulledSubscription implements EventSubscription {
  private busy = false;

  abstract readonly bufferedEvents: number;
  abstract close(): Promise<void>;
  protected abstract pull(): Promise<IteratorResult<RecordedEvent>>;

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<RecordedEvent>> {
    if (this.busy) throw new Error("EventSubscription.next() called while a previous call is still pending");
    this.busy = true;
    try {
      return await this.pull();
    } finally {
      this.busy = false;
    }
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    await this.close();
    return { done: true, value: undefined };
  }
}

/**
 * The subscription as an Observable, for callers that want rxjs operators
 * (the projection worker's wake-up). Each event is pulled after the previous
 * `next` handler returned, so the pace is the subscriber's synchronous work;
 * a subscriber that queues events for asynchronous work defeats the bound
 * and should iterate the subscription instead.
 */
export function observeSubscription(open: () => EventSubscription): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber) => {
    let subscription: EventSubscription;
    try {
      subscription = open();
    } catch (error) {
      subscriber.error(error);
      return undefined;
    }
    const pull = async (): Promise<void> => {
      for (;;) {
        const result = await subscription.next();
        if (result.done === true || subscriber.closed) return;
        subscriber.next(result.value);
      }
    };
    pull().then(
      () => {
        subscriber.complete();
      },
      (error: unknown) => {
        subscriber.error(error);
      },
    );
    return () => {
      void subscription.close();
    };
  });
}

/** Upper bound on any single read; callers page beyond it. */
export const READ_COUNT_MAX = 10_000;
/** Upper bound on events in one append (one transaction). */
export const APPEND_COUNT_MAX = 10_000;

/**
 * A condition on another stream for an append: no event of `eventType` whose
 * `data[field]` is one of `values` after `afterRevision` (-1: from the
 * start). Until the append commits, appends to that stream wait.
 */
export interface AppendGuard {
  readonly stream: StreamName;
  readonly afterRevision: bigint;
  readonly eventType: string;
  readonly field: string;
  readonly values: readonly string[];
}

/**
 * A SQL statement run in the append's own transaction, in the event store's
 * database; `sql` numbers its parameters with `param(1)`, `param(2)`, … It
 * may read the CTE `appended` (columns `outcome`, `position`) and must act
 * only `WHERE appended.outcome = 'ok'`.
 */
export interface CompanionWrite {
  readonly sql: (param: (n: number) => string) => string;
  readonly values: readonly unknown[];
}

/**
 * append() with two extras in one transaction: `guards` on other streams (a
 * failed one throws GuardFailedError and writes nothing) and a `companion`
 * write that lands if and only if the events do (it ran exactly when the
 * result is not `replayed`; its own errors are thrown as the database
 * reported them). Only a store that keeps the log in a SQL database next to
 * the caller's tables can offer it.
 */
export interface TransactionalAppend {
  append(
    stream: StreamName,
    events: readonly NewEvent[],
    options: { expectedRevision: ExpectedRevision; guards?: readonly AppendGuard[] | undefined },
    companion?: CompanionWrite,
  ): Promise<AppendResult>;
}

/**
 * What an adapter offers beyond the port. Each is optional: a caller asks
 * for it and works without it (the command side then stores answers after
 * the append and checks guards by re-reading).
 */
export interface EventStoreCapabilities {
  readonly transactionalAppend?: TransactionalAppend | undefined;
}

export interface EventStore {
  /** Optional extras of this adapter; see EventStoreCapabilities. */
  readonly capabilities: EventStoreCapabilities;
  append(stream: StreamName, events: readonly NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>;
  /** Throws StreamNotFoundError when the stream has no events. */
  readStream(stream: StreamName, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Events in global position order; never skips an event that commits later with a lower position. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Catches up from `after`, then stays live, pulled at the consumer's pace: see EventSubscription. */
  subscribe(options?: SubscribeOptions): EventSubscription;
  /**
   * Resolves once readAll would return an event after `after` (at once when
   * it already would); rejects with the signal's reason when `signal` aborts.
   * For a reader that only needs to know that something arrived (a worker
   * waking up): unlike a subscription it reads none of the events' data,
   * which for a statement's line batch is hundreds of kilobytes.
   */
  waitForAppend(after: Position | undefined, options?: { readonly signal?: AbortSignal | undefined }): Promise<void>;
  /** Position of the newest event visible to readAll (or committed, with includeHeldBack), or undefined when there is none. */
  headPosition(options?: { readonly includeHeldBack?: boolean }): Promise<Position | undefined>;
  /** How much of the committed log is visible, and who holds the rest back: see VisibilityReport. */
  visibility(): Promise<VisibilityReport>;
  /**
   * The committed event with this id, wherever it is, or undefined. For
   * deciding from the log by a fixed id (a journal entry's event). Its cost
   * is the adapter's: an index lookup in PostgreSQL, a bounded scan in
   * EventStoreDB (see its adapter).
   */
  readEventById(eventId: EventId): Promise<RecordedEvent | undefined>;
  close(): Promise<void>;
}

export class WrongExpectedRevisionError extends Error {
  override readonly name = "WrongExpectedRevisionError";
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: bigint | "no-stream",
  ) {
    super(`stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}

export class StreamNotFoundError extends Error {
  override readonly name = "StreamNotFoundError";
  constructor(readonly stream: string) {
    super(`stream ${stream} not found`);
  }
}

/**
 * The same event id was appended before with different content or to another
 * place, or one append repeats an id (`repeatedInAppend`). Nothing was
 * written. A batching caller splits the batch to find whose ids collide.
 */
export class DuplicateEventIdError extends Error {
  override readonly name = "DuplicateEventIdError";
  constructor(
    readonly stream: string,
    readonly eventIds: readonly string[],
    readonly repeatedInAppend = false,
  ) {
    super(
      repeatedInAppend
        ? `stream ${stream}: one append repeats event ids: ${eventIds.slice(0, 5).join(", ")}`
        : `stream ${stream}: event ids already used with different content: ${eventIds.slice(0, 5).join(", ")}`,
    );
  }
}

/** The ids an append repeats (each once), in first-seen order; empty when all are distinct. */
export function repeatedEventIds(events: readonly NewEvent[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const event of events) {
    if (seen.has(event.eventId)) repeated.add(event.eventId);
    seen.add(event.eventId);
  }
  return [...repeated];
}

/** The store could not be reached or failed; the operation may be retried (appends are idempotent by event id). */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}

/** A guard's stream got a matching event after the revision the decision saw: nothing was written. */
export class GuardFailedError extends Error {
  override readonly name = "GuardFailedError";
}

export class InvalidAppendError extends Error {
  override readonly name = "InvalidAppendError";
}

export function matchesFilter(filter: EventFilter | undefined, streamName: string, type: string): boolean {
  if (filter === undefined) return true;
  if (filter.eventTypes !== undefined && !filter.eventTypes.includes(type)) return false;
  if (filter.categories === undefined) return true;
  const dash = streamName.indexOf("-");
  const category = dash < 0 ? streamName : streamName.slice(0, dash);
  return filter.categories.includes(category);
}
