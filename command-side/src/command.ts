// What every bounded context's command handlers share: who asked (the
// context a command runs in), what its write came to (the outcome), and the
// envelope that turns a decided event into a storable one.
import type { NewEvent } from "@trueup/event-store";
import type { StreamName } from "@trueup/contracts";
import { deterministicUuid } from "./ids.ts";
import type { DomainEvent, WriteResult } from "./stream-writer.ts";

/** Who asked, why, and when the command was first seen (a retry keeps the first time). */
export interface CommandContext {
  readonly commandId: string;
  readonly actor: string;
  readonly correlationId: string;
  readonly occurredAt: Date;
}

export interface CommandOutcome {
  readonly revision: bigint | undefined;
  readonly position: string | undefined;
  readonly replayed: boolean;
  /** The command's answer was stored with its events (its receipt): nothing is left to record. */
  readonly recorded: boolean;
}

/** A receipt's key was taken by a concurrent command while this one ran; nothing was written. */
export class ReceiptConflictError extends Error {
  override readonly name = "ReceiptConflictError";
}

/** What a decision read changed before its events landed (a guard failed): nothing was written; decide again. */
export class StaleDecisionError extends Error {
  override readonly name = "StaleDecisionError";
}

/**
 * Wraps a decided event for the log. Ids are fixed by the command (or by
 * `eventIdOf`, e.g. an entry's id), so a retried command produces the same
 * events and is recognised instead of written twice.
 */
export function envelopeOf<E extends DomainEvent>(options: {
  readonly ctx: CommandContext;
  readonly stream: StreamName;
  readonly eventIdOf?: ((event: E, index: number) => string) | undefined;
  /** The version new events of a type are written at: the current version its context's upcasters lead to. */
  readonly schemaVersionOf: (type: string) => number;
}): (event: E, index: number) => NewEvent {
  const { ctx, stream, eventIdOf, schemaVersionOf } = options;
  return (event, index) => ({
    eventId: (eventIdOf?.(event, index) ?? deterministicUuid(ctx.commandId, stream, String(index))) as NewEvent["eventId"],
    type: event.type,
    schemaVersion: schemaVersionOf(event.type),
    data: event.data,
    metadata: {
      actor: ctx.actor,
      correlationId: ctx.correlationId,
      causationId: ctx.commandId,
      commandId: ctx.commandId,
      occurredAt: ctx.occurredAt.toISOString(),
    },
  });
}

/** A write's result as a command's outcome; refusals and retry signals are thrown. */
export function outcomeOf(result: WriteResult): CommandOutcome {
  switch (result.kind) {
    case "rejected":
      throw result.error;
    case "receipt-conflict":
      throw new ReceiptConflictError("the idempotency key was taken by a concurrent request");
    case "stale":
      throw new StaleDecisionError("what the decision read changed before its events landed");
    case "unchanged":
      return { revision: result.revision, position: undefined, replayed: true, recorded: false };
    case "written":
      return { revision: result.revision, position: result.position, replayed: result.replayed, recorded: result.recorded };
  }
}
