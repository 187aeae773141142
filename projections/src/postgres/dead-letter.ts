// Dead letters: events a projection could not apply. The log is append-only,
// so a bad event cannot be fixed in place; what the worker can do is record
// it (the position, the error and the whole event) and then, per the
// projection's policy, either move past it ("park": only where skipping
// cannot corrupt the read model) or stay on it ("stop": loudly, until an
// operator asks for a retry after a fix).
//
// The table lives in the projection's own schema, beside its checkpoint, so
// parking an event and moving the checkpoint past it commit together, and a
// rebuild's fresh schema starts with its own (it meets the same events).
import assert from "node:assert/strict";
import pg from "pg";
import { parsePosition } from "@trueup/event-store";
import type { EventStore, Position, RecordedEvent } from "@trueup/event-store";
import { advanceCheckpoint, lockCheckpoint } from "./checkpoint.ts";
import type { UnprojectablePolicy } from "../definition.ts";
import { qualified } from "./definition.ts";
import type { PostgresProjection } from "./definition.ts";
import { isTransient } from "./retry.ts";
import { inTransaction } from "./transaction.ts";

/** Error texts are cut here: a dead letter names the failure, it does not archive stack dumps. */
export const DEAD_LETTER_ERROR_LENGTH_MAX = 4_000;
/** Dead letters one listing or one retry handles; an operator re-runs the retry for more. */
export const DEAD_LETTERS_LISTED_MAX = 100;

export type { UnprojectablePolicy };

/** `parked`: the worker moved past it; `blocking`: the worker stays on it; `resolved`: a retry applied it (or it applied on its own). */
export type DeadLetterStatus = "parked" | "blocking" | "resolved";

export interface DeadLetter {
  readonly projection: string;
  readonly position: Position;
  readonly eventId: string;
  readonly streamName: string;
  readonly type: string;
  readonly error: string;
  readonly status: DeadLetterStatus;
  readonly attempts: number;
  readonly parkedAt: Date;
  readonly retryRequestedAt: Date | undefined;
}

export function deadLetterDdl(schemaName: string): string {
  // `event` is json, not jsonb: jsonb refuses \u0000, and an event that cannot be stored must still be parkable.
  return `CREATE TABLE IF NOT EXISTS ${qualified(schemaName, "dead_letters")} (
       position text COLLATE "C" PRIMARY KEY,
       after_position text COLLATE "C" NULL,
       projection text NOT NULL,
       event_id text NOT NULL,
       stream_name text NOT NULL,
       revision bigint NOT NULL,
       type text NOT NULL,
       error text NOT NULL,
       event json NOT NULL,
       status text NOT NULL CHECK (status IN ('parked', 'blocking', 'resolved')),
       attempts integer NOT NULL,
       parked_at timestamptz NOT NULL,
       retry_requested_at timestamptz NULL)`;
}

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/** The event as stored in `dead_letters.event`, for the operator to read (a retry reads it from the log again). */
function eventJson(event: RecordedEvent): string {
  return JSON.stringify({
    eventId: event.eventId, type: event.type, schemaVersion: event.schemaVersion, data: event.data, metadata: event.metadata,
    streamName: event.streamName, revision: event.revision.toString(), position: event.position, recordedAt: event.recordedAt.toISOString(),
  });
}

/** Text columns cannot hold NUL; the message is cut to its bound. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.replaceAll("\u0000", "\\u0000").slice(0, DEAD_LETTER_ERROR_LENGTH_MAX);
}

interface DeadLetterWrite {
  readonly projection: PostgresProjection;
  readonly schemaName: string;
  /** The checkpoint before the event: a retry reads the event from the log again after it. */
  readonly after: Position | undefined;
  readonly event: RecordedEvent;
  readonly error: unknown;
}

async function upsertDeadLetter(db: Queryable, options: DeadLetterWrite & { readonly status: DeadLetterStatus }): Promise<void> {
  const { projection, schemaName, event, status } = options;
  await db.query(
    `INSERT INTO ${qualified(schemaName, "dead_letters")} AS d VALUES ($1, $10, $2, $3, $4, $5, $6, $7, $8, $9, 1, now(), NULL)
     ON CONFLICT (position) DO UPDATE SET error = excluded.error, status = excluded.status, attempts = d.attempts + 1,
       parked_at = excluded.parked_at, retry_requested_at = NULL`,
    [event.position, projection.name, event.eventId, event.streamName, event.revision.toString(), event.type, errorText(options.error), eventJson(event), status, options.after ?? null],
  );
}

/**
 * Parks `event` and moves the checkpoint past it, in one transaction, if the
 * checkpoint is still `after` (false, nothing written, when it moved).
 */
export async function parkEvent(pool: pg.Pool, options: DeadLetterWrite): Promise<boolean> {
  const { projection, schemaName } = options;
  return inTransaction(pool, async (tx) => {
    const checkpoint = await lockCheckpoint(tx, projection, schemaName);
    if (checkpoint.position !== options.after) return false;
    await upsertDeadLetter(tx, { ...options, status: "parked" });
    await advanceCheckpoint(tx, projection, schemaName, { to: options.event.position, eventCount: 0 });
    return true;
  });
}

/** Records `event` as the one the projection stopped on; the checkpoint stays before it. */
export async function blockOnEvent(pool: pg.Pool, options: DeadLetterWrite): Promise<void> {
  await upsertDeadLetter(pool, { ...options, status: "blocking" });
}

/** True when an operator asked to retry the blocking dead letter at `position` (or it is gone). */
export async function retryRequested(db: Queryable, options: { projection: PostgresProjection; schemaName: string; position: Position }): Promise<boolean> {
  const { rows } = await db.query<{ asked: boolean }>(
    `SELECT (status <> 'blocking' OR retry_requested_at IS NOT NULL) AS asked FROM ${qualified(options.schemaName, "dead_letters")} WHERE position = $1`,
    [options.position],
  );
  return rows[0]?.asked ?? true;
}

/** A blocking dead letter the worker got past (a fix made it apply): no longer blocking. */
export async function resolveDeadLetter(db: Queryable, options: { schemaName: string; position: Position }): Promise<void> {
  await db.query(`UPDATE ${qualified(options.schemaName, "dead_letters")} SET status = 'resolved' WHERE position = $1 AND status = 'blocking'`, [options.position]);
}

interface DeadLetterRow {
  projection: string;
  position: string;
  event_id: string;
  stream_name: string;
  type: string;
  error: string;
  status: DeadLetterStatus;
  attempts: number;
  parked_at: Date;
  retry_requested_at: Date | null;
}

/** Unresolved dead letters in log order, at most DEAD_LETTERS_LISTED_MAX; [] when the schema is not there yet. */
export async function listDeadLetters(db: Queryable, projection: PostgresProjection): Promise<DeadLetter[]> {
  const table = qualified(projection.schemaName, "dead_letters");
  const { rows } = await db.query<DeadLetterRow>(
    `SELECT projection, position, event_id, stream_name, type, error, status, attempts, parked_at, retry_requested_at
       FROM ${table} WHERE status <> 'resolved' ORDER BY position LIMIT ${DEAD_LETTERS_LISTED_MAX}`,
  ).catch((error: unknown) => {
    if (error instanceof pg.DatabaseError && error.code === "42P01") return { rows: [] };
    throw error;
  });
  return rows.map((r) => ({
    projection: r.projection, position: r.position as Position, eventId: r.event_id, streamName: r.stream_name, type: r.type, error: r.error,
    status: r.status, attempts: r.attempts, parkedAt: r.parked_at, retryRequestedAt: r.retry_requested_at ?? undefined,
  }));
}

/** Counts per status of the unresolved dead letters (0 when the schema is not there yet). */
export async function countDeadLetters(db: Queryable, projection: PostgresProjection): Promise<{ parked: number; blocking: number }> {
  const table = qualified(projection.schemaName, "dead_letters");
  const { rows } = await db.query<{ parked: number; blocking: number }>(
    `SELECT count(*) FILTER (WHERE status = 'parked')::int AS parked, count(*) FILTER (WHERE status = 'blocking')::int AS blocking FROM ${table}`,
  ).catch((error: unknown) => {
    if (error instanceof pg.DatabaseError && error.code === "42P01") return { rows: [{ parked: 0, blocking: 0 }] };
    throw error;
  });
  return rows[0] ?? { parked: 0, blocking: 0 };
}

export interface RetryDeadLettersResult {
  /** Blocking dead letters whose worker was asked to try again (it does so within its halt re-check). */
  readonly retryRequested: number;
  /** Parked events that applied this time. */
  readonly resolved: number;
  /** Parked events that failed again (their error and attempts are updated). */
  readonly stillFailing: number;
}

/**
 * The operator's retry after a fix: a blocking dead letter is marked for the
 * worker to try again (it holds the order, so only the worker applies it);
 * each parked event (up to DEAD_LETTERS_LISTED_MAX) is read from the log
 * again and applied on its own, late: parking is only the policy of
 * projections for which that order does not matter.
 */
export async function retryDeadLetters(options: { pool: pg.Pool; eventStore: EventStore; projection: PostgresProjection }): Promise<RetryDeadLettersResult> {
  const { pool, eventStore, projection } = options;
  const table = qualified(projection.schemaName, "dead_letters");
  const asked = await pool.query(`UPDATE ${table} SET retry_requested_at = now() WHERE status = 'blocking'`);
  const { rows } = await pool.query<{ position: string; after_position: string | null }>(
    `SELECT position, after_position FROM ${table} WHERE status = 'parked' ORDER BY position LIMIT ${DEAD_LETTERS_LISTED_MAX}`,
  );
  let resolved = 0;
  let stillFailing = 0;
  for (const row of rows) {
    const after = row.after_position === null ? undefined : parsePosition(row.after_position);
    const [event] = await eventStore.readAll({ after, filter: projection.filter, maxCount: 1 });
    assert.ok(event?.position === row.position, `dead letter ${row.position} of ${projection.name} is no longer in the log after ${String(after)}`);
    try {
      const plan = projection.plan([event]);
      await inTransaction(pool, async (tx) => {
        // The worker's lock: a late apply never interleaves with a batch.
        await lockCheckpoint(tx, projection, projection.schemaName);
        await projection.apply(tx, plan, projection.schemaName, eventStore);
        await tx.query(`UPDATE ${table} SET status = 'resolved' WHERE position = $1`, [row.position]);
      });
      resolved += 1;
    } catch (error) {
      if (isTransient(error)) throw error;
      await upsertDeadLetter(pool, { projection, schemaName: projection.schemaName, after, event, error, status: "parked" });
      stillFailing += 1;
    }
  }
  return { retryRequested: asked.rowCount ?? 0, resolved, stillFailing };
}
