// What every projection is, whatever it writes into: a name, a version, the
// events it reads and a pure `plan` of one batch. Where the plan goes is the
// projection's sink. PostgreSQL (tables in a schema, a set-based apply inside
// the worker's transaction) is one sink; a document sink (MongoDB, or
// PostgreSQL JSONB without Mongo, behind the port in documents/port.ts and
// its conformance suite) is the other. The `kind` tells the composition
// root which worker runs a projection, so adding a sink is adding a union
// member: every switch over `kind` then fails to compile until it handles it.
import type { EventFilter, RecordedEvent } from "@trueup/event-store";

export interface ProjectionDefinition<Plan = unknown> {
  /** Key of the checkpoint, e.g. "ledger"; unique among registered projections. */
  readonly name: string;
  /** Bump when the read model's shape or meaning changes: the projections service then rebuilds it. */
  readonly version: number;
  readonly filter: EventFilter;
  /**
   * Events per batch when the worker or rebuild is not told otherwise
   * (default BATCH_SIZE_DEFAULT): a projection whose events are large (a
   * statement's line batches) bounds its memory with it.
   */
  readonly batchSizeMax?: number;
  /**
   * Pure work on one batch (in position order), before its transaction: parse,
   * check, aggregate. Throws on an event it cannot understand: nothing of the
   * batch is kept, and the worker isolates the event (see onUnprojectable).
   */
  plan(events: readonly RecordedEvent[]): Plan;
  /**
   * What the worker does with an event this projection cannot apply, once it
   * has isolated it (always recorded as a dead letter first): "park" moves
   * past it, only right where skipping it cannot corrupt the read model;
   * "stop" holds the projection on it until an operator retries after a fix.
   * Decided per failure (given the error's root cause) or once for all.
   */
  onUnprojectable(failure: unknown): UnprojectablePolicy;
}

/** What happens to an event a projection cannot apply (see onUnprojectable). */
export type UnprojectablePolicy = "park" | "stop";

/** The sinks a projection may write into: PostgreSQL tables (PostgresProjection) or documents (DocumentProjection). */
export type SinkKind = "postgres" | "document";
