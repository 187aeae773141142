// One step of a projection: read a batch after a checkpoint, then apply it and
// move the checkpoint in one transaction. Shared by the live worker and by a
// rebuild, so both have exactly the same exactly-once argument:
// the checkpoint row is locked first, and the batch is applied only if the
// checkpoint is still where the batch was read from.
import assert from "node:assert/strict";
import type pg from "pg";
import { READ_COUNT_MAX } from "@trueup/event-store";
import type { EventStore, Position, RecordedEvent } from "@trueup/event-store";
import { ProjectionEventError, ProjectionFailedError } from "../errors.ts";
import { advanceCheckpoint, lockCheckpoint } from "./checkpoint.ts";
import type { PostgresProjection, StreamReader } from "./definition.ts";

export const BATCH_SIZE_DEFAULT = 1000;
export const BATCH_SIZE_MAX = READ_COUNT_MAX;

export interface Batch {
  readonly after: Position | undefined;
  /** Events the projection's filter selects, in position order. */
  readonly events: readonly RecordedEvent[];
  /**
   * Where the checkpoint moves to: the last event, or the log's head when the
   * read reached it, so the checkpoint also passes events the filter leaves
   * out (lag reaches 0, `waitForPosition` works for any position).
   */
  readonly to: Position | undefined;
  /** True when no matching event up to the head was left unread. */
  readonly caughtUp: boolean;
  /** The projection's plan of `events` (made as soon as they are read, outside any transaction). */
  readonly plan: unknown;
}

export function checkBatchSize(batchSizeMax: number): number {
  if (!Number.isInteger(batchSizeMax) || batchSizeMax < 1 || batchSizeMax > BATCH_SIZE_MAX) {
    throw new RangeError(`batchSizeMax must be an integer in 1..${BATCH_SIZE_MAX}, got ${batchSizeMax}`);
  }
  return batchSizeMax;
}

export async function readBatch(
  eventStore: EventStore,
  projection: PostgresProjection,
  options: { readonly after: Position | undefined; readonly batchSizeMax: number },
): Promise<Batch> {
  const { after, batchSizeMax } = options;
  // Head first: every event up to it is visible to the read that follows.
  const head = await eventStore.headPosition();
  const events = await eventStore.readAll({ after, filter: projection.filter, maxCount: batchSizeMax });
  checkOrder(after, events);
  const last = events[events.length - 1]?.position;
  const plan = events.length > 0 ? planBatch(projection, events) : undefined;
  if (events.length === batchSizeMax) return { after, events, to: last, caughtUp: false, plan };
  return { after, events, to: maxPosition(maxPosition(after, last), head), caughtUp: true, plan };
}

/** The projection's plan; a failure names the batch (the worker then isolates the event responsible). */
function planBatch(projection: PostgresProjection, events: readonly RecordedEvent[]): unknown {
  try {
    return projection.plan(events);
  } catch (error) {
    if (error instanceof ProjectionEventError) throw error;
    throw new ProjectionFailedError({ projection: projection.name, events, cause: error });
  }
}

export function isEmptyBatch(batch: Batch): boolean {
  return batch.to === batch.after;
}

/**
 * Inside `tx`: applies the batch and moves the checkpoint, if the checkpoint
 * is still `batch.after`. Returns false (having written nothing) when another
 * writer moved it first: a rebuild swapped the schema, or a second worker ran.
 */
export async function commitBatch(tx: pg.PoolClient, projection: PostgresProjection, schemaName: string, batch: Batch, log: StreamReader): Promise<boolean> {
  const checkpoint = await lockCheckpoint(tx, projection, schemaName);
  if (checkpoint.position !== batch.after) return false;
  if (batch.to === undefined || batch.to === batch.after) return true;
  if (batch.events.length > 0) await projection.apply(tx, batch.plan, schemaName, log);
  await advanceCheckpoint(tx, projection, schemaName, { to: batch.to, eventCount: batch.events.length });
  return true;
}

function checkOrder(after: Position | undefined, events: readonly RecordedEvent[]): void {
  let previous = after;
  for (const event of events) {
    assert.ok(previous === undefined || event.position > previous, `event store returned ${event.position} after ${String(previous)}`);
    previous = event.position;
  }
}

function maxPosition(a: Position | undefined, b: Position | undefined): Position | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
