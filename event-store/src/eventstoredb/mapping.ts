// Pure translations between the event-store port and the EventStoreDB client
// (@eventstore/db-client v6): expected revisions, positions, the metadata
// envelope that carries schemaVersion, recorded events, filters and the
// "strictly after, matching, at most n" selection shared by readAll and
// subscribe. No I/O here: eventstoredb-mapping.test.ts proves it without a server.
import { isDeepStrictEqual } from "node:util";
import { ANY, NO_STREAM, STREAM_EXISTS, eventTypeFilter, excludeSystemEvents, jsonEvent, streamNameFilter } from "@eventstore/db-client";
import type { AppendExpectedRevision, EventData, Filter, JSONType, Position as EsdbPosition } from "@eventstore/db-client";
import type { EventMetadata, JsonValue } from "@trueup/contracts";
import { eventIdSchema, isCategory, parseStreamName, streamNameSchema } from "@trueup/contracts";
import { APPEND_COUNT_MAX, DuplicateEventIdError, InvalidAppendError, READ_COUNT_MAX, SerializedJson, decodePosition, encodePosition, matchesFilter, repeatedEventIds } from "../port.ts";
import type { EventFilter, ExpectedRevision, NewEvent, Position, RecordedEvent } from "../port.ts";

export const READ_COUNT_DEFAULT = 1000;
/** The key under which our schemaVersion travels inside the ESDB metadata JSON, next to EventMetadata. */
export const SCHEMA_VERSION_KEY = "schemaVersion";
/** Server-side filter tuning for subscriptions, stated rather than left to the client's defaults. */
export const FILTER_SEARCH_WINDOW_EVENTS = 1000;
export const FILTER_CHECKPOINT_INTERVAL = 1;
/** ESDB sends 2^64-1 (-1 as ulong) for a position it does not know, e.g. stream reads on servers before 22.6. */
const POSITION_UNKNOWN = 2n ** 64n - 1n;

/** An event as stored in EventStoreDB (in the `RecordedEvent` shape of the client, narrowed to what we read). */
export interface EsdbRecord {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly created: Date;
  readonly isJson: boolean;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly position?: EsdbPosition | undefined;
}

/** Stored data we cannot read back as a port event: written by something else, or a broken invariant. */
export class ForeignEventError extends Error {
  override readonly name = "ForeignEventError";
}

export function toEsdbExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  if (typeof expected === "bigint") {
    if (expected < 0n) throw new InvalidAppendError(`expected revision must be >= 0, got ${expected}`);
    return expected;
  }
  switch (expected) {
    case "no-stream":
      return NO_STREAM;
    case "exists":
      return STREAM_EXISTS;
    case "any":
      return ANY;
  }
}

/** The client reports the current revision as a bigint or "no_stream"; old servers may say -1. */
export function toActualRevision(current: bigint | typeof NO_STREAM): bigint | "no-stream" {
  return current === NO_STREAM || current < 0n ? "no-stream" : current;
}

/**
 * Where the appended events sit in the stream. Exact and no-stream appends
 * say it themselves, so a replay is looked for where the caller put it; for
 * "exists"/"any" only the server's answer (revision of the last event) tells.
 */
export function firstRevisionOf(expected: ExpectedRevision, nextExpectedRevision: bigint, count: number): bigint {
  if (expected === "no-stream") return 0n;
  if (typeof expected === "bigint") return expected + 1n;
  return nextExpectedRevision - BigInt(count) + 1n;
}

export function fromEsdbPosition(position: EsdbPosition): Position {
  return encodePosition(position.commit, position.prepare);
}

export function toEsdbPosition(position: Position): EsdbPosition {
  const { major, minor } = decodePosition(position);
  return { commit: major, prepare: minor };
}

export function checkAppend(stream: string, events: readonly NewEvent[]): void {
  if (parseStreamName(stream) === undefined) throw new InvalidAppendError(`invalid stream name ${JSON.stringify(stream)}`);
  if (events.length === 0) throw new InvalidAppendError("append needs at least one event");
  if (events.length > APPEND_COUNT_MAX) throw new InvalidAppendError(`append of ${events.length} events exceeds ${APPEND_COUNT_MAX}`);
  // ESDB would write the repeats as separate events (it deduplicates only against what is stored, and only at
  // the same expected revision); the port's answer is the same as PostgreSQL's unique index gives.
  const repeated = repeatedEventIds(events);
  if (repeated.length > 0) throw new DuplicateEventIdError(stream, repeated, true);
  for (const event of events) {
    // ESDB reserves "$" types for itself, and readAll/subscribe skip them as system events.
    if (event.type === "" || event.type.startsWith("$")) throw new InvalidAppendError(`invalid event type ${JSON.stringify(event.type)}`);
  }
}

export function checkCount(maxCount: number | undefined): number {
  const count = maxCount ?? READ_COUNT_DEFAULT;
  if (!Number.isInteger(count) || count < 1 || count > READ_COUNT_MAX) {
    throw new RangeError(`maxCount must be an integer in 1..${READ_COUNT_MAX}, got ${count}`);
  }
  return count;
}

export function checkFilter(filter: EventFilter | undefined): void {
  for (const category of filter?.categories ?? []) {
    if (!isCategory(category)) throw new RangeError(`invalid category in filter: ${JSON.stringify(category)}`);
  }
}

/** Our EventMetadata plus schemaVersion, as one JSON object in the ESDB metadata slot. */
export function packMetadata(event: Pick<NewEvent, "metadata" | "schemaVersion">): EventMetadata & { readonly [SCHEMA_VERSION_KEY]: number } {
  if (Object.hasOwn(event.metadata, SCHEMA_VERSION_KEY)) throw new InvalidAppendError(`metadata must not carry its own ${SCHEMA_VERSION_KEY}`);
  if (!Number.isSafeInteger(event.schemaVersion)) throw new InvalidAppendError(`schemaVersion must be an integer, got ${event.schemaVersion}`);
  return { ...event.metadata, [SCHEMA_VERSION_KEY]: event.schemaVersion };
}

export function unpackMetadata(raw: unknown, where: string): { schemaVersion: number; metadata: EventMetadata } {
  if (!isPlainObject(raw)) throw new ForeignEventError(`${where}: metadata is not a JSON object`);
  const { [SCHEMA_VERSION_KEY]: schemaVersion, ...metadata } = raw;
  if (typeof schemaVersion !== "number" || !Number.isSafeInteger(schemaVersion)) throw new ForeignEventError(`${where}: metadata has no integer ${SCHEMA_VERSION_KEY}`);
  if (!isEventMetadata(metadata)) throw new ForeignEventError(`${where}: metadata lacks the audit fields`);
  return { schemaVersion, metadata };
}

/**
 * The client's `JSONType` leaves out top-level numbers, booleans and null,
 * but it writes `data` with JSON.stringify and reads it with JSON.parse
 * (dist/streams/appendToStream/batchAppend.js, dist/utils/convertGrpcEvent.js),
 * so every JsonValue round-trips; only the declared type is narrower.
 */
function asClientJson(data: JsonValue | SerializedJson): JSONType {
  // The client serializes again itself, so serialized data is parsed first: the shortcut is PostgreSQL's only.
  if (!(data instanceof SerializedJson)) return data as JSONType;
  try {
    return JSON.parse(data.text()) as JSONType;
  } catch (error) {
    throw new InvalidAppendError(`event data cannot be stored: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function toEventData(event: NewEvent): EventData {
  return jsonEvent({ id: event.eventId, type: event.type, data: asClientJson(event.data), metadata: packMetadata(event) });
}

export function toRecordedEvent(record: EsdbRecord): RecordedEvent {
  const where = `${record.streamId}@${record.revision}`;
  const streamName = streamNameSchema.safeParse(record.streamId);
  const eventId = eventIdSchema.safeParse(record.id.toLowerCase());
  if (!streamName.success || !eventId.success) throw new ForeignEventError(`${where}: not a port stream name or event id`);
  if (!record.isJson || !isJsonValue(record.data)) throw new ForeignEventError(`${where}: data is not JSON`);
  const { schemaVersion, metadata } = unpackMetadata(record.metadata, where);
  return {
    eventId: eventId.data,
    type: record.type,
    schemaVersion,
    data: record.data,
    metadata,
    streamName: streamName.data,
    revision: record.revision,
    position: requirePosition(record, where),
    recordedAt: record.created,
  };
}

export function requirePosition(record: Pick<EsdbRecord, "position">, where: string): Position {
  const position = record.position;
  if (position === undefined || position.commit === POSITION_UNKNOWN || position.prepare === POSITION_UNKNOWN) {
    throw new ForeignEventError(`${where}: the server sent no log position (EventStoreDB 22.6 or later is required)`);
  }
  return fromEsdbPosition(position);
}

/** Same id, type, schemaVersion, data and metadata, after the JSON round trip the store applies. */
export function sameContent(stored: RecordedEvent, event: NewEvent): boolean {
  return (
    stored.eventId === event.eventId &&
    stored.type === event.type &&
    stored.schemaVersion === event.schemaVersion &&
    isDeepStrictEqual(stored.data, jsonRoundTrip(event.data)) &&
    isDeepStrictEqual(stored.metadata, jsonRoundTrip(event.metadata))
  );
}

export function isSystemRecord(record: Pick<EsdbRecord, "streamId" | "type">): boolean {
  return record.streamId.startsWith("$") || record.type.startsWith("$");
}

/**
 * ESDB filters on one thing only (stream name or event type) and by prefix,
 * so this over-matches ("Odd" also matches "OddOne"): callers post-filter
 * with matchesFilter. Categories contain no '-', so `category-` is exact.
 */
export function toServerFilter(filter: EventFilter | undefined): Filter {
  const tuning = { maxSearchWindow: FILTER_SEARCH_WINDOW_EVENTS, checkpointInterval: FILTER_CHECKPOINT_INTERVAL };
  const categories = filter?.categories ?? [];
  if (categories.length > 0) return streamNameFilter({ prefixes: categories.map((c) => `${c}-`), ...tuning });
  const eventTypes = filter?.eventTypes ?? [];
  if (eventTypes.length > 0) return eventTypeFilter({ prefixes: [...eventTypes], ...tuning });
  return excludeSystemEvents(tuning);
}

/**
 * From records of $all in position order: the port events strictly after
 * `after` that match `filter`, at most `countMax`. `lastSeen` is the position
 * of the last record looked at that was after `after` (matching or not), so a
 * caller can continue from there; ESDB reads from a position inclusively.
 */
export function pickMatching(
  records: readonly EsdbRecord[],
  options: { readonly after: Position | undefined; readonly filter: EventFilter | undefined; readonly countMax: number },
): { events: RecordedEvent[]; lastSeen: Position | undefined } {
  const events: RecordedEvent[] = [];
  let lastSeen: Position | undefined;
  for (const record of records) {
    if (events.length === options.countMax) break;
    const position = requirePosition(record, `${record.streamId}@${record.revision}`);
    if (options.after !== undefined && position <= options.after) continue;
    lastSeen = position;
    if (isSystemRecord(record) || !matchesFilter(options.filter, record.streamId, record.type)) continue;
    events.push(toRecordedEvent(record));
  }
  return { events, lastSeen };
}

function jsonRoundTrip(value: JsonValue | SerializedJson | EventMetadata): unknown {
  const parsed: unknown = JSON.parse(value instanceof SerializedJson ? value.text() : JSON.stringify(value));
  return parsed;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

const METADATA_REQUIRED_KEYS = ["actor", "correlationId", "causationId", "commandId", "occurredAt"] as const;
const METADATA_OPTIONAL_KEYS = ["previousHash", "hash"] as const;

function isEventMetadata(value: Record<string, unknown>): value is EventMetadata {
  return (
    METADATA_REQUIRED_KEYS.every((key) => typeof value[key] === "string") &&
    METADATA_OPTIONAL_KEYS.every((key) => value[key] === undefined || typeof value[key] === "string")
  );
}

/** Checks what JSON.parse produced; recursion depth is the data's nesting depth. */
function isJsonValue(value: unknown): value is JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  return isPlainObject(value) && Object.values(value).every(isJsonValue);
}
