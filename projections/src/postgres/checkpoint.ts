// The checkpoint lives in the projection's own schema, next to the tables it
// describes: a rebuild builds tables and checkpoint together and swaps them
// together, and every batch updates both in one transaction.
import assert from "node:assert/strict";
import pg from "pg";
import { parsePosition } from "@trueup/event-store";
import type { Position } from "@trueup/event-store";
import { deadLetterDdl } from "./dead-letter.ts";
import { qualified } from "./definition.ts";
import type { PostgresProjection } from "./definition.ts";

export interface Checkpoint {
  /** Everything up to and including this position is applied; undefined = nothing yet. */
  readonly position: Position | undefined;
  readonly eventsApplied: bigint;
  readonly version: number;
  readonly updatedAt: Date;
}

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

interface CheckpointRow {
  position: string | null;
  events_applied: string;
  version: number;
  updated_at: Date;
}

const UNDEFINED_TABLE = "42P01";

/** Creates `schemaName` with the projection's tables, its dead letters and a checkpoint at the start of the log. */
export async function createProjectionSchema(tx: pg.PoolClient, projection: PostgresProjection, schemaName: string): Promise<void> {
  await tx.query(`CREATE SCHEMA ${pg.escapeIdentifier(schemaName)}`);
  for (const statement of projection.ddl(schemaName)) await tx.query(statement);
  await tx.query(
    `CREATE TABLE ${qualified(schemaName, "checkpoint")} (
       projection text PRIMARY KEY,
       position text COLLATE "C",
       events_applied bigint NOT NULL,
       updated_at timestamptz NOT NULL,
       version integer NOT NULL)`,
  );
  await tx.query(`INSERT INTO ${qualified(schemaName, "checkpoint")} VALUES ($1, NULL, 0, now(), $2)`, [projection.name, projection.version]);
  await tx.query(deadLetterDdl(schemaName));
}

/** The checkpoint, or undefined when the schema (or its row) does not exist. */
export async function readCheckpoint(db: Queryable, projection: PostgresProjection, schemaName: string): Promise<Checkpoint | undefined> {
  try {
    const { rows } = await db.query<CheckpointRow>(
      `SELECT position, events_applied, version, updated_at FROM ${qualified(schemaName, "checkpoint")} WHERE projection = $1`,
      [projection.name],
    );
    const row = rows[0];
    return row === undefined ? undefined : toCheckpoint(row);
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code === UNDEFINED_TABLE) return undefined;
    throw error;
  }
}

/**
 * The checkpoint, locked for this transaction: one writer per projection and
 * schema, and a rebuild's swap waits for the batch (its ACCESS EXCLUSIVE lock
 * on the checkpoint table conflicts with this read's ACCESS SHARE).
 *
 * An advisory lock, not `FOR UPDATE`: a row lock gives the transaction an xid
 * at once, and while a transaction with an xid runs, the event store holds
 * back every event committed after it from every reader (its visibility
 * horizon, pg_snapshot_xmin). A batch that reads before it writes (a process
 * manager waiting for read models, or running a command) would hold back the
 * whole log for that long. Without the row lock, the xid comes with the
 * batch's first write. The lock comes first, then the read in a statement of
 * its own: a read in the same statement would see the snapshot from before
 * the wait.
 */
export async function lockCheckpoint(tx: pg.PoolClient, projection: PostgresProjection, schemaName: string): Promise<Checkpoint> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`trueup_checkpoint:${schemaName}:${projection.name}`]);
  const { rows } = await tx.query<CheckpointRow>(
    `SELECT position, events_applied, version, updated_at FROM ${qualified(schemaName, "checkpoint")} WHERE projection = $1`,
    [projection.name],
  );
  const row = rows[0];
  assert.ok(row !== undefined, `checkpoint row of ${projection.name} missing in ${schemaName}`);
  return toCheckpoint(row);
}

export async function advanceCheckpoint(
  tx: pg.PoolClient,
  projection: PostgresProjection,
  schemaName: string,
  advance: { readonly to: Position; readonly eventCount: number },
): Promise<void> {
  const result = await tx.query(
    `UPDATE ${qualified(schemaName, "checkpoint")}
        SET position = $2, events_applied = events_applied + $3, updated_at = now()
      WHERE projection = $1 AND (position IS NULL OR position < $2)`,
    [projection.name, advance.to, advance.eventCount],
  );
  assert.equal(result.rowCount, 1, `checkpoint of ${projection.name} in ${schemaName} must move forward to ${advance.to}`);
}

function toCheckpoint(row: CheckpointRow): Checkpoint {
  const position = row.position === null ? undefined : parsePosition(row.position);
  assert.ok(row.position === null || position !== undefined, `malformed checkpoint position ${String(row.position)}`);
  return { position, eventsApplied: BigInt(row.events_applied), version: row.version, updatedAt: row.updated_at };
}
