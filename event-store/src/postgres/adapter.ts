// PostgreSQL adapter of the event-store port. One round trip per append
// (the es_append function), reads ordered by (tx_id, seq) below the oldest
// running transaction, live delivery by in-process signals plus LISTEN/NOTIFY
// across processes (coalesced, so NOTIFY never serialises commits).
import { createHash } from "node:crypto";
import pg from "pg";
import { HeadWatch } from "./head-watch.ts";
import type { HeadReading } from "./head-watch.ts";
import type { EventId, EventMetadata, JsonValue, StreamName } from "@trueup/contracts";
import { isCategory, parseStreamName } from "@trueup/contracts";
import {
  APPEND_COUNT_MAX,
  DuplicateEventIdError,
  GuardFailedError,
  VISIBILITY_COUNT_MAX,
  InvalidAppendError,
  READ_COUNT_MAX,
  SerializedJson,
  StreamNotFoundError,
  WrongExpectedRevisionError,
  checkBufferEventsMax,
  decodePosition,
  encodePosition,
  repeatedEventIds,
} from "../port.ts";
import type {
  AppendGuard,
  AppendResult,
  CompanionWrite,
  EventFilter,
  EventStore,
  EventStoreCapabilities,
  EventSubscription,
  HorizonHolder,
  ExpectedRevision,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  VisibilityReport,
} from "../port.ts";
import { MIGRATIONS, migrate } from "./schema.ts";
import { mapPgError } from "./errors.ts";
import { LiveSignal } from "./live-signal.ts";
import { PostgresSubscription } from "./subscription.ts";

export const NOTIFY_CHANNEL = "trueup_events";
const READ_COUNT_DEFAULT = 1000;

export interface PostgresEventStoreOptions {
  readonly pool: pg.Pool;
  /** Connection settings for the dedicated LISTEN connection (same server as the pool). */
  readonly listenConnection: pg.ClientConfig;
  /**
   * Called (at most once per horizonHeldWarnMs) while readers have seen
   * committed events held back for longer than horizonHeldWarnMs, with who
   * holds them: see describeHorizonHeld for a log line.
   */
  readonly onHorizonHeld?: ((report: VisibilityReport) => void) | undefined;
  readonly horizonHeldWarnMs?: number | undefined;
}

/** Readers held back by one running transaction for this long is worth a warning: appends take milliseconds. */
export const HORIZON_HELD_WARN_MS_DEFAULT = 10_000;

/** A log line for a held horizon. */
export function describeHorizonHeld(report: VisibilityReport): string {
  const holder = report.holder;
  const who =
    holder === undefined
      ? "a transaction the server does not attribute (a prepared transaction, or a backend our role cannot see)"
      : `pid ${holder.pid} (application_name "${holder.applicationName}", state "${holder.state}", transaction open for ${Math.round(holder.heldForMs / 1000)} s)`;
  return (
    `event store: ${report.heldBackEvents >= VISIBILITY_COUNT_MAX ? `at least ${VISIBILITY_COUNT_MAX}` : report.heldBackEvents} committed events are held back from every reader by ${who}; ` +
    "projections and subscriptions wait until it ends. End that transaction, or set idle_in_transaction_session_timeout for its role (README: external PostgreSQL)."
  );
}

interface EventRow {
  tx_id: string;
  seq: string;
  stream_name: string;
  revision: string;
  event_id: string;
  type: string;
  schema_version: number;
  data: JsonValue;
  metadata: EventMetadata;
  recorded_ms: string;
}

// Output names must not shadow the ordering columns: `ORDER BY tx_id` would
// sort by the text alias ("1000" < "999"). Queries order by `e.tx_id`.
// recorded_at travels as epoch milliseconds: parsing timestamptz text costs more than the rest of the row.
/** What PostgreSQL's uuid type accepts in our ids: anything else cannot be stored, so is not found. */
const EVENT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EVENT_COLUMNS =
  "e.tx_id::text AS tx_id, e.seq, e.stream_name, e.revision, e.event_id, e.type, e.schema_version, e.data, e.metadata, (extract(epoch FROM e.recorded_at) * 1000)::bigint AS recorded_ms";

/**
 * A named statement, so each connection parses and plans it once: es_append
 * costs about 15% less server CPU that way. Names come from the text, so
 * every distinct query shape (a bounded set) gets its own.
 */
const statementNames = new Map<string, string>();
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `es_${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/**
 * The append statement. `position` is encodePosition(tx_id, seq) computed in
 * SQL, for a companion statement to store (a test pins the two together).
 * The events' data follow as parameters `dataFrom`…: see dataArray.
 */
const appendSql = (call: (data: string) => string) => (dataFrom: number, count: number): string => `SELECT outcome, actual, tx_id, seq,
  CASE WHEN outcome = 'ok' THEN lpad(to_hex(tx_id::bigint), 16, '0') || lpad(to_hex(seq), 16, '0') END AS position
  FROM ${call(dataArray(dataFrom, count))}`;
const appendStatement = appendSql((data) => `es_append($1, $2, $3, $4::jsonb, ${data})`);
const appendGuardedStatement = appendSql((data) => `es_append_guarded($1, $2, $3, $4::jsonb, $5::jsonb, ${data})`);

/**
 * `ARRAY[$from::json, …]` with room for `count` data: the next power of two,
 * padded with nulls (es_append reads as many as there are envelopes), so the
 * statements' texts, each prepared once per connection, stay few.
 */
function dataArray(from: number, count: number): string {
  const slots = dataSlots(count);
  return `ARRAY[${Array.from({ length: slots }, (_, i) => `$${from + i}::json`).join(", ")}]`;
}

function dataSlots(count: number): number {
  let slots = 1;
  while (slots < count) slots *= 2;
  return slots;
}

/**
 * The append's parameters besides the stream: the envelopes (id, type,
 * version, metadata) as one JSON array, and each event's data as its own
 * JSON text, stored as it is (see migration 3): a SerializedJson goes in
 * without being parsed or serialized again, its bytes (when it holds bytes)
 * as a binary parameter, which for json is the text itself.
 */
interface AppendPayload {
  readonly envelopes: string;
  readonly data: readonly (string | Buffer)[];
}

function appendPayload(events: readonly NewEvent[]): AppendPayload {
  const data = events.map((e) => dataParam(e.data));
  for (const [i, json] of data.entries()) {
    const problem = unstorableEscape(json);
    if (problem !== undefined) throw new InvalidAppendError(`event ${i} data cannot be stored: it holds ${problem}`);
  }
  return { envelopes: JSON.stringify(events.map((e) => ({ id: e.eventId, type: e.type, v: e.schemaVersion, metadata: e.metadata }))), data };
}

function dataParam(data: NewEvent["data"]): string | Buffer {
  return data instanceof SerializedJson ? data.json : JSON.stringify(data);
}

/** The data parameters, padded with nulls to the statement's slots. */
function dataParams(payload: AppendPayload): (string | Buffer | null)[] {
  const params: (string | Buffer | null)[] = [...payload.data];
  for (let i = payload.data.length; i < dataSlots(payload.data.length); i++) params.push(null);
  return params;
}

const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * What the json type takes but jsonb refused, and this store still refuses
 * (text with them cannot become jsonb or text in PostgreSQL, and other stores
 * cannot hold them either): a NUL escape (\u0000) and an unpaired UTF-16
 * surrogate escape. JSON.stringify writes both as escapes (a raw control
 * character is not JSON, and PostgreSQL refuses it). Escapes are rare in
 * data, so this is a few indexOf calls over the text.
 */
function unstorableEscape(json: string | Buffer): string | undefined {
  // Escapes are ASCII: in UTF-8 bytes they sit where they would in the text, byte for character.
  const code = typeof json === "string" ? (i: number) => json.charCodeAt(i) : (i: number) => json[i] ?? Number.NaN;
  const hex4 = typeof json === "string" ? (i: number) => json.slice(i, i + 4) : (i: number) => json.toString("latin1", i, i + 4);
  for (let at = json.indexOf("\\u"); at !== -1; at = json.indexOf("\\u", at + 2)) {
    // After an odd run of backslashes this one is escaped: the text's \\u is a backslash, then a "u".
    let before = 0;
    while (at - before - 1 >= 0 && code(at - before - 1) === 0x5c) before++;
    if (before % 2 === 1) continue;
    const hex = hex4(at + 2);
    // Not an escape at all: PostgreSQL refuses the text.
    if (!HEX4.test(hex)) continue;
    const unit = Number.parseInt(hex, 16);
    if (unit === 0) return "a NUL character (\\u0000)";
    if (unit >= 0xdc00 && unit <= 0xdfff) return `an unpaired surrogate (\\u${hex})`;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = code(at + 6) === 0x5c && code(at + 7) === 0x75 ? hex4(at + 8) : "";
      const low = HEX4.test(next) ? Number.parseInt(next, 16) : Number.NaN;
      if (!(low >= 0xdc00 && low <= 0xdfff)) return `an unpaired surrogate (\\u${hex})`;
      at += 6;
    }
  }
  return undefined;
}

/** The LEFT JOIN's row for an existing stream with nothing in the requested range. */
type NullRow = { [K in keyof EventRow]: null };

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id as EventId,
    type: row.type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name as StreamName,
    revision: BigInt(row.revision),
    position: encodePosition(BigInt(row.tx_id), BigInt(row.seq)),
    recordedAt: new Date(Number(row.recorded_ms)),
  };
}

function expectedToText(expected: ExpectedRevision): string {
  if (typeof expected === "bigint") {
    if (expected < 0n) throw new InvalidAppendError(`expected revision must be >= 0, got ${expected}`);
    return expected.toString();
  }
  return expected;
}

function checkCount(maxCount: number | undefined): number {
  const count = maxCount ?? READ_COUNT_DEFAULT;
  if (!Number.isInteger(count) || count < 1 || count > READ_COUNT_MAX) {
    throw new RangeError(`maxCount must be an integer in 1..${READ_COUNT_MAX}, got ${count}`);
  }
  return count;
}

export const FILTER_CATEGORIES_MAX = 32;
export const FILTER_EVENT_TYPES_MAX = 200;

function checkFilter(filter: EventFilter | undefined): void {
  if ((filter?.categories?.length ?? 0) > FILTER_CATEGORIES_MAX) throw new RangeError(`at most ${FILTER_CATEGORIES_MAX} categories per filter`);
  if ((filter?.eventTypes?.length ?? 0) > FILTER_EVENT_TYPES_MAX) throw new RangeError(`at most ${FILTER_EVENT_TYPES_MAX} event types per filter`);
  for (const category of filter?.categories ?? []) {
    if (!isCategory(category)) throw new RangeError(`invalid category in filter: ${JSON.stringify(category)}`);
  }
}

/**
 * The page query. Every shape is an ordered index range scan that stops after
 * `count` rows, so a page costs the same at the start of the log as at the
 * end: the whole log walks (tx_id, seq); a category walks (category, tx_id,
 * seq) from its lower bound; several categories merge one bounded scan each.
 * (`category = ANY(…)` instead would plan as a bitmap scan of every remaining
 * match plus a sort: a long catch-up would slow down quadratically.)
 */
function readAllQuery(options: ReadAllOptions, count: number): { sql: string; params: unknown[] } {
  const after = options.after === undefined ? { major: 0n, minor: 0n } : decodePosition(options.after);
  const params: unknown[] = [after.major.toString(), after.minor.toString(), count];
  const visible = options.includeHeldBack === true ? "true" : "e.tx_id < pg_snapshot_xmin(pg_current_snapshot())";
  let typeFilter = "";
  if (options.filter?.eventTypes !== undefined) {
    params.push(options.filter.eventTypes);
    typeFilter = ` AND e.type = ANY($${params.length}::text[])`;
  }
  const categories = options.filter?.categories;
  if (categories === undefined) {
    return {
      sql: `SELECT ${EVENT_COLUMNS} FROM es_events e WHERE (e.tx_id, e.seq) > ($1::xid8, $2::bigint) AND ${visible}${typeFilter} ORDER BY e.tx_id, e.seq LIMIT $3`,
      params,
    };
  }
  if (categories.length === 0) return { sql: `SELECT ${EVENT_COLUMNS} FROM es_events e WHERE false`, params: [] };
  const branches = categories.map((category) => {
    params.push(category);
    const c = `$${params.length}`;
    return `(SELECT ${EVENT_COLUMNS} FROM es_events e
              WHERE e.category = ${c} AND (e.category, e.tx_id, e.seq) > (${c}, $1::xid8, $2::bigint) AND ${visible}${typeFilter}
              ORDER BY e.category, e.tx_id, e.seq LIMIT $3)`;
  });
  if (branches.length === 1) return { sql: branches[0] ?? "", params };
  return { sql: `SELECT * FROM (${branches.join(" UNION ALL ")}) u ORDER BY u.tx_id::xid8, u.seq LIMIT $3`, params };
}

export class PostgresEventStore implements EventStore {
  private readonly pool: pg.Pool;
  private readonly live: LiveSignal;
  private readonly headWatch: HeadWatch;
  /** Guards and a companion write in the append's transaction: see appendWith. */
  readonly capabilities: EventStoreCapabilities = {
    transactionalAppend: { append: (stream, events, options, companion) => this.appendWith(stream, events, options, companion) },
  };

  private readonly onHorizonHeld: ((report: VisibilityReport) => void) | undefined;
  private readonly horizonHeldWarnMs: number;
  /** Since when reads have found committed events held back, and when we last warned. */
  private heldSinceMs: number | undefined;
  private warnedAtMs: number | undefined;

  private constructor(options: PostgresEventStoreOptions) {
    this.pool = options.pool;
    this.onHorizonHeld = options.onHorizonHeld;
    this.horizonHeldWarnMs = options.horizonHeldWarnMs ?? HORIZON_HELD_WARN_MS_DEFAULT;
    this.live = new LiveSignal({ pool: options.pool, channel: NOTIFY_CHANNEL, connection: options.listenConnection });
    this.headWatch = new HeadWatch({
      read: () => this.readHead(),
      signal: () => this.live.waiter(),
      onReading: (reading) => {
        this.noteHeldBack(reading.heldBack);
      },
    });
  }

  /** Runs pending migrations, checks that positions cannot go backwards (see checkPositionsAhead), then returns a ready store. */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    try {
      await migrate(options.pool, MIGRATIONS, "es_migrations");
      await checkPositionsAhead(options.pool);
    } catch (error) {
      throw mapPgError(error);
    }
    return new PostgresEventStore(options);
  }

  async append(stream: StreamName, events: readonly NewEvent[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    return this.appendWith(stream, events, options);
  }

  /**
   * The transactionalAppend capability (see the port's TransactionalAppend):
   * guards are checked by es_append_guarded; the companion is one
   * data-modifying CTE beside the append, so either both land or neither does.
   */
  async appendWith(
    stream: StreamName,
    events: readonly NewEvent[],
    options: { expectedRevision: ExpectedRevision; guards?: readonly AppendGuard[] | undefined },
    companion?: CompanionWrite,
  ): Promise<AppendResult> {
    const parsed = parseStreamName(stream);
    if (parsed === undefined) throw new InvalidAppendError(`invalid stream name ${JSON.stringify(stream)}`);
    if (events.length === 0) throw new InvalidAppendError("append needs at least one event");
    if (events.length > APPEND_COUNT_MAX) throw new InvalidAppendError(`append of ${events.length} events exceeds ${APPEND_COUNT_MAX}`);
    // The unique index would refuse these too, but as if another append held the ids: a revision conflict.
    const repeated = repeatedEventIds(events);
    if (repeated.length > 0) throw new DuplicateEventIdError(stream, repeated, true);
    const payload = appendPayload(events);
    const expected = expectedToText(options.expectedRevision);
    const params: unknown[] = [stream, parsed.category, expected, payload.envelopes];
    let statement = appendStatement;
    const guards = options.guards ?? [];
    if (guards.length > 0) {
      statement = appendGuardedStatement;
      params.push(
        JSON.stringify(guards.map((g) => ({ stream: g.stream, after: g.afterRevision.toString(), type: g.eventType, field: g.field, values: g.values }))),
      );
    }
    const append = statement(params.length + 1, events.length);
    params.push(...dataParams(payload));
    let text = append;
    if (companion !== undefined) {
      const first = params.length;
      text = `WITH appended AS MATERIALIZED (${append}), companion AS (${companion.sql((n) => `$${first + n}`)}) SELECT outcome, actual, tx_id, seq FROM appended`;
      params.push(...companion.values);
    }
    let row: { outcome: "ok" | "conflict"; actual: string; tx_id: string | null; seq: string | null } | undefined;
    try {
      const result = await this.pool.query<{ outcome: "ok" | "conflict"; actual: string; tx_id: string | null; seq: string | null }>(prepared(text, params));
      row = result.rows[0];
    } catch (error) {
      if (isUniqueViolation(error, "es_events_event_id")) return this.replayOrThrow(stream, options.expectedRevision, payload, events);
      if (error instanceof pg.DatabaseError && UNSTORABLE_JSON_SQLSTATES.has(error.code ?? "")) {
        throw new InvalidAppendError(`event data cannot be stored: ${error.message}`);
      }
      if (error instanceof pg.DatabaseError && error.code === "TU002") throw new GuardFailedError(error.message, { cause: error });
      throw mapPgError(error);
    }
    if (row === undefined) throw new Error("es_append returned no row");
    if (row.outcome === "conflict") {
      return this.replayOrThrow(stream, options.expectedRevision, payload, events, BigInt(row.actual));
    }
    if (row.tx_id === null || row.seq === null) throw new Error("es_append returned ok without a position");
    this.live.appended();
    return { nextExpectedRevision: BigInt(row.actual), position: encodePosition(BigInt(row.tx_id), BigInt(row.seq)), replayed: false };
  }

  /**
   * An append was refused (revision conflict or an event id already stored).
   * If exactly these events are already the stream's events where the caller
   * expected to put them, this is a retry: answer with the original result.
   */
  private async replayOrThrow(
    stream: StreamName,
    expected: ExpectedRevision,
    payload: AppendPayload,
    events: readonly NewEvent[],
    actual?: bigint,
  ): Promise<AppendResult> {
    // Data compared as jsonb: the same values, whatever the spacing or member order of the text stored.
    const found = await this.query<{ ord: string; stream_name: string | null; revision: string | null; tx_id: string | null; seq: string | null; same: boolean | null }>(
      `SELECT n.ord, e.stream_name, e.revision, e.tx_id::text AS tx_id, e.seq,
              (e.type = n.value->>'type' AND e.schema_version = (n.value->>'v')::integer
               AND e.data::jsonb = n.data::jsonb AND e.metadata = n.value->'metadata') AS same
         FROM ROWS FROM (jsonb_array_elements($1::jsonb), unnest(${dataArray(2, events.length)})) WITH ORDINALITY AS n(value, data, ord)
         LEFT JOIN es_events e ON e.event_id = (n.value->>'id')::uuid
        WHERE n.value IS NOT NULL
        ORDER BY n.ord`,
      [payload.envelopes, ...dataParams(payload)],
    );
    const stored = found.filter((r) => r.stream_name !== null);
    if (stored.length === 0) {
      throw new WrongExpectedRevisionError(stream, expected, actual === undefined || actual < 0n ? "no-stream" : actual);
    }
    const first = stored[0];
    const last = found[found.length - 1];
    const firstRevision = first?.revision === null || first === undefined ? -1n : BigInt(first.revision);
    const expectedFirst = expected === "no-stream" ? 0n : typeof expected === "bigint" ? expected + 1n : firstRevision;
    const isReplay =
      stored.length === events.length &&
      firstRevision === expectedFirst &&
      found.every((r, i) => r.stream_name === stream && r.same === true && r.revision !== null && BigInt(r.revision) === firstRevision + BigInt(i));
    if (!isReplay || last?.tx_id == null || last.seq === null || last.revision === null) {
      throw new DuplicateEventIdError(stream, stored.map((_, i) => events[i]?.eventId ?? "?"));
    }
    return { nextExpectedRevision: BigInt(last.revision), position: encodePosition(BigInt(last.tx_id), BigInt(last.seq)), replayed: true };
  }

  async readStream(stream: StreamName, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const count = checkCount(options.maxCount);
    const backwards = options.direction === "backwards";
    const from = options.fromRevision ?? (backwards ? 2n ** 63n - 1n : 0n);
    // One round trip: the stream row says whether the stream exists, the lateral join brings the page.
    const rows = await this.query<EventRow | NullRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_streams s
         LEFT JOIN LATERAL (
           SELECT * FROM es_events x WHERE x.stream_name = s.stream_name AND x.revision ${backwards ? "<=" : ">="} $2
           ORDER BY x.revision ${backwards ? "DESC" : "ASC"} LIMIT $3) e ON true
        WHERE s.stream_name = $1
        ORDER BY e.revision ${backwards ? "DESC" : "ASC"}`,
      [stream, from.toString(), count],
    );
    if (rows.length === 0) throw new StreamNotFoundError(stream);
    const events: RecordedEvent[] = [];
    for (const row of rows) if (row.seq !== null) events.push(toRecorded(row));
    return events;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const count = checkCount(options.maxCount);
    checkFilter(options.filter);
    const { sql, params } = readAllQuery(options, count);
    return (await this.query<EventRow>(sql, params)).map(toRecorded);
  }

  /**
   * One page of the global log for a subscription; an empty page also says
   * whether newer committed events are held back by a running transaction
   * (the subscription then retries soon rather than waiting for a wake-up).
   * Only then: a page with events needs no answer, and readAll none at all,
   * so a projection's every short batch costs no second query.
   */
  private async readAllPage(options: ReadAllOptions): Promise<{ events: RecordedEvent[]; heldBack: boolean }> {
    const events = await this.readAll(options);
    if (events.length > 0) return { events, heldBack: false };
    const held = await this.query<{ held: boolean }>(`SELECT ${HELD_BACK_SQL} AS held`);
    const heldBack = held[0]?.held === true;
    this.noteHeldBack(heldBack);
    return { events, heldBack };
  }

  /** One probe of the unique index es_events_event_id. Any committed event, visible to readAll yet or not. */
  async readEventById(eventId: EventId): Promise<RecordedEvent | undefined> {
    if (!EVENT_ID_PATTERN.test(eventId)) return undefined;
    const rows = await this.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM es_events e WHERE e.event_id = $1::uuid`, [eventId]);
    const row = rows[0];
    return row === undefined ? undefined : toRecorded(row);
  }

  /** Warns (bounded: once per horizonHeldWarnMs) when reads keep finding events held back. */
  private noteHeldBack(heldBack: boolean): void {
    if (!heldBack) {
      this.heldSinceMs = undefined;
      return;
    }
    const nowMs = Date.now();
    this.heldSinceMs ??= nowMs;
    if (this.onHorizonHeld === undefined || nowMs - this.heldSinceMs < this.horizonHeldWarnMs) return;
    if (this.warnedAtMs !== undefined && nowMs - this.warnedAtMs < this.horizonHeldWarnMs) return;
    this.warnedAtMs = nowMs;
    const warn = this.onHorizonHeld;
    this.visibility().then(
      (report) => {
        if (report.heldBackEvents > 0) warn(report);
      },
      () => undefined,
    );
  }

  async headPosition(options: { readonly includeHeldBack?: boolean } = {}): Promise<Position | undefined> {
    const visible = options.includeHeldBack === true ? "" : "WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())";
    const rows = await this.query<{ tx_id: string; seq: string }>(
      `SELECT e.tx_id::text AS tx_id, e.seq FROM es_events e ${visible} ORDER BY e.tx_id DESC, e.seq DESC LIMIT 1`,
    );
    const row = rows[0];
    return row === undefined ? undefined : encodePosition(BigInt(row.tx_id), BigInt(row.seq));
  }

  /**
   * One statement, one snapshot: the newest committed and newest visible
   * positions, the held-back count (bounded), and the backend whose
   * transaction id is the horizon (the oldest running one, from
   * pg_stat_activity; a prepared transaction holds it too and shows no
   * backend). A role without pg_read_all_stats sees other roles' backends
   * without state or start time.
   */
  async visibility(): Promise<VisibilityReport> {
    const rows = await this.query<VisibilityRow>(VISIBILITY_SQL, [VISIBILITY_COUNT_MAX]);
    const row = rows[0];
    if (row === undefined) throw new Error("visibility query returned no row");
    const position = (tx: string | null, seq: string | null): Position | undefined => (tx === null || seq === null ? undefined : encodePosition(BigInt(tx), BigInt(seq)));
    const heldBackEvents = Number(row.held);
    const holder: HorizonHolder | undefined =
      heldBackEvents === 0 || row.pid === null
        ? undefined
        : {
            pid: row.pid,
            applicationName: row.application_name ?? "",
            state: row.state ?? "",
            transactionStartedAt: row.xact_start ?? undefined,
            heldForMs: Math.max(0, Number(row.held_ms ?? "0")),
          };
    return { newestCommitted: position(row.c_tx, row.c_seq), newestVisible: position(row.v_tx, row.v_seq), heldBackEvents, holder };
  }

  /** One shared watch of the visible head answers every waiter (head-watch.ts says why). */
  waitForAppend(after: Position | undefined, options: { readonly signal?: AbortSignal | undefined } = {}): Promise<void> {
    return this.headWatch.wait(after, options.signal);
  }

  /** The newest visible position and whether committed events are held back: one statement, one snapshot. */
  private async readHead(): Promise<HeadReading> {
    const [row] = await this.query<{ tx_id: string | null; seq: string | null; held: boolean }>(
      `SELECT h.tx_id::text AS tx_id, h.seq, ${HELD_BACK_SQL} AS held
         FROM (SELECT 1) one
         LEFT JOIN LATERAL (SELECT e.tx_id, e.seq FROM es_events e WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.tx_id DESC, e.seq DESC LIMIT 1) h ON true`,
    );
    const head = row?.tx_id == null || row.seq === null ? undefined : encodePosition(BigInt(row.tx_id), BigInt(row.seq));
    return { head, heldBack: row?.held === true };
  }

  subscribe(options: SubscribeOptions = {}): EventSubscription {
    checkFilter(options.filter);
    const bufferEventsMax = checkBufferEventsMax(options.bufferEventsMax);
    return new PostgresSubscription({
      after: options.after,
      filter: options.filter,
      bufferEventsMax,
      readPage: (page) => this.readAllPage(page),
      waiter: this.live.waiter(),
      mapError: mapPgError,
    });
  }

  async close(): Promise<void> {
    this.headWatch.close();
    await this.live.close();
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(prepared(sql, params))).rows;
    } catch (error) {
      throw mapPgError(error);
    }
  }
}

/**
 * Positions begin with the writing transaction's id. A logical dump restored
 * into another server keeps the stored tx_ids, but that server's own counter
 * may be far below them: new events would then sort before old ones, and a
 * checkpoint past the old ones would skip them for ever. So the newest stored
 * transaction id must be below the server's next one, or we refuse to run.
 * (A committed row's tx_id is always below pg_snapshot_xmax on the server
 * that wrote it, so this never fires on a healthy server.)
 */
export class PositionsAheadOfServerError extends Error {
  override readonly name = "PositionsAheadOfServerError";
  constructor(readonly newestTxId: bigint, readonly nextTxId: bigint) {
    super(
      `es_events holds positions up to transaction id ${newestTxId}, but this PostgreSQL server's next transaction id is ${nextTxId}: ` +
        "the log was restored into a different server (a logical dump/restore), and new events would sort before old ones. " +
        `Refusing to run. Advance the server's transaction counter past ${newestTxId} (README: "Restoring the event log") and start again.`,
    );
  }
}

async function checkPositionsAhead(pool: pg.Pool): Promise<void> {
  const result = await pool.query<{ newest: string | null; next: string }>(
    `SELECT (SELECT e.tx_id::text FROM es_events e ORDER BY e.tx_id DESC, e.seq DESC LIMIT 1) AS newest,
            pg_snapshot_xmax(pg_current_snapshot())::text AS next`,
  );
  const row = result.rows[0];
  if (row?.newest == null) return;
  const newest = BigInt(row.newest);
  const next = BigInt(row.next);
  if (newest >= next) throw new PositionsAheadOfServerError(newest, next);
}

interface VisibilityRow {
  c_tx: string | null;
  c_seq: string | null;
  v_tx: string | null;
  v_seq: string | null;
  held: string;
  pid: number | null;
  application_name: string | null;
  state: string | null;
  xact_start: Date | null;
  held_ms: string | null;
}

/**
 * Whether a committed event is held back by the horizon. `>`, not `>=`: the
 * horizon (pg_snapshot_xmin) is the oldest transaction still running, so its
 * own rows are uncommitted; an index scan from `>=` visits each of them in
 * the heap to find that out, once per poll of every waiting reader, for as
 * long as a large append (a run's proposals, an import) is in flight
 * (870 heap fetches a poll behind one slice of a run; none with `>`).
 */
const HELD_BACK_SQL = "EXISTS (SELECT 1 FROM es_events WHERE tx_id > pg_snapshot_xmin(pg_current_snapshot()))";

const VISIBILITY_SQL = `
WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
c AS (SELECT e.tx_id::text AS tx, e.seq FROM es_events e ORDER BY e.tx_id DESC, e.seq DESC LIMIT 1),
v AS (SELECT e.tx_id::text AS tx, e.seq FROM es_events e, h WHERE e.tx_id < h.xmin ORDER BY e.tx_id DESC, e.seq DESC LIMIT 1),
held AS (SELECT count(*) AS n FROM (SELECT 1 FROM es_events e, h WHERE e.tx_id > h.xmin LIMIT $1) x),
holder AS (
  SELECT a.pid, a.application_name, a.state, a.xact_start,
         (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::bigint::text AS held_ms
    FROM pg_stat_activity a
   WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
   ORDER BY age(a.backend_xid) DESC LIMIT 1)
SELECT c.tx AS c_tx, c.seq::text AS c_seq, v.tx AS v_tx, v.seq::text AS v_seq, held.n::text AS held,
       holder.pid, holder.application_name, holder.state, holder.xact_start, holder.held_ms
  FROM held LEFT JOIN c ON true LEFT JOIN v ON true LEFT JOIN holder ON true`;

/** jsonb refuses \u0000 in strings (22P05) and invalid Unicode (22021, 22P02). */
const UNSTORABLE_JSON_SQLSTATES = new Set(["22P05", "22021", "22P02"]);

function isUniqueViolation(error: unknown, constraint: string): boolean {
  return error instanceof pg.DatabaseError && error.code === "23505" && error.constraint === constraint;
}

