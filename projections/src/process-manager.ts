// A process manager as a projection: its "read model" is the record of what
// it did, and its apply is the effect. The worker gives it everything a
// projection has: a checkpoint, batches, retries of transient failures for
// as long as they last, a dead letter (and a halt, loudly on /ready) for an
// event it cannot handle, lag metrics. What it does not give is atomicity
// between the effect and the checkpoint: the effect (a command to another
// context) lands in the event store, the checkpoint in PostgreSQL. So the
// handler must be idempotent per event (commands with ids derived from the
// event): after a crash between the two, the worker hands it the same
// events again and the effect is found already done, not done twice.
//
// Its schema is never rebuilt from zero on its own (version 1 for good): a
// rebuild would hand it the whole log again, which idempotency makes
// harmless but slow.
import type { JsonValue } from "@trueup/contracts";
import type { EventFilter, RecordedEvent } from "@trueup/event-store";
import type { PostgresProjection } from "./postgres/definition.ts";
import { qualified } from "./postgres/definition.ts";
import { names, selectRows } from "./postgres/rows.ts";
import type { Column } from "./postgres/rows.ts";

/**
 * Events per batch: each may send commands to another context while the
 * batch's transaction (and its checkpoint row) is held, so batches are small.
 */
export const PROCESS_BATCH_EVENTS_MAX = 50;

export interface ProcessManagerDefinition {
  readonly name: string;
  readonly schemaName: string;
  /** The events it reacts to; narrow it (categories and types) so the worker skips the rest. */
  readonly filter: EventFilter;
  /**
   * Carries out what `event` calls for, idempotently; returns what it did
   * (kept in its `effects` table) or undefined when the event needs nothing.
   * Throws the event store's StoreUnavailableError for "try again"; any
   * other error holds the process manager on the event (a dead letter).
   */
  handle(event: RecordedEvent): Promise<JsonValue | undefined>;
}

const EFFECT_COLUMNS: readonly Column[] = [["position", "text"], ["event_id", "text"], ["stream_name", "text"], ["event_type", "text"], ["outcome", "jsonb"]];

export function processManagerProjection(definition: ProcessManagerDefinition): PostgresProjection<readonly RecordedEvent[]> {
  return {
    name: definition.name,
    version: 1,
    kind: "postgres",
    schemaName: definition.schemaName,
    filter: definition.filter,
    batchSizeMax: PROCESS_BATCH_EVENTS_MAX,
    ddl: (schemaName) => [
      `CREATE TABLE ${qualified(schemaName, "effects")} (
         position text COLLATE "C" PRIMARY KEY,
         event_id text NOT NULL,
         stream_name text NOT NULL,
         event_type text NOT NULL,
         outcome jsonb NOT NULL,
         handled_at timestamptz NOT NULL DEFAULT now())`,
    ],
    plan: (events) => events,
    apply: async (tx, events, schemaName) => {
      const rows: unknown[][] = [];
      // One at a time, in log order: an effect may depend on the one before (the same match, the same stream).
      for (const event of events) {
        const outcome = await definition.handle(event);
        if (outcome !== undefined) rows.push([event.position, event.eventId, event.streamName, event.type, JSON.stringify(outcome)]);
      }
      if (rows.length > 0) await tx.query(`INSERT INTO ${qualified(schemaName, "effects")} (${names(EFFECT_COLUMNS)}) ${selectRows(EFFECT_COLUMNS)}`, [JSON.stringify(rows)]);
    },
    // An event it cannot handle is a bug or a refusal it did not expect: it holds on it (loudly) until a fix.
    onUnprojectable: () => "stop",
  };
}
