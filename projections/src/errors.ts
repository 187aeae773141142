// Errors of events a projection cannot apply. They are bugs (or a missing
// upcaster, or a bad event already in the append-only log), never transient:
// the worker finds the one event responsible, records it as a dead letter and
// parks it or stops on it as the projection's policy says (dead-letter.ts).
import type { RecordedEvent } from "@trueup/event-store";

/** One event could not be projected (it fails its schema, breaks an invariant, or has an unknown version). */
export class ProjectionEventError extends Error {
  override readonly name = "ProjectionEventError";
  readonly position: string;
  readonly streamName: string;
  readonly revision: bigint;
  readonly type: string;

  constructor(event: RecordedEvent, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`cannot project ${event.type} at position ${event.position} (${event.streamName}@${event.revision}): ${reason}`, { cause });
    this.position = event.position;
    this.streamName = event.streamName;
    this.revision = event.revision;
    this.type = event.type;
  }
}

/** A batch failed for a reason that is not transient and not tied to one event (e.g. a broken invariant across events). */
export class ProjectionFailedError extends Error {
  override readonly name = "ProjectionFailedError";
  readonly projection: string;
  readonly firstPosition: string | undefined;
  readonly lastPosition: string | undefined;

  constructor(options: { projection: string; events: readonly RecordedEvent[]; cause: unknown }) {
    const first = options.events[0]?.position;
    const last = options.events[options.events.length - 1]?.position;
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`projection ${options.projection} failed on the batch of positions ${first ?? "-"}..${last ?? "-"}: ${reason}`, { cause: options.cause });
    this.projection = options.projection;
    this.firstPosition = first;
    this.lastPosition = last;
  }
}

/**
 * The same record (e.g. a journal entry id) appears twice in the log with
 * different content. An exact duplicate (same content) is tolerated by the
 * projection; this one cannot be, since either copy could be the true one.
 */
export class ConflictingDuplicateError extends Error {
  override readonly name = "ConflictingDuplicateError";
}

/** The innermost cause: policies decide on what went wrong, not on how the worker wrapped it. */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause;
  return current;
}

/** Maps each event with `parse`, naming the event when parsing throws. */
export function parseEach<T>(events: readonly RecordedEvent[], parse: (event: RecordedEvent) => T): T[] {
  return events.map((event) => {
    try {
      return parse(event);
    } catch (error) {
      throw new ProjectionEventError(event, error);
    }
  });
}
