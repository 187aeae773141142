// What an operator sees and does about the projections: their lag, the state
// of the workers running in this process (an outage, a dead letter held on),
// their dead letters, and the retry after a fix. JSON at /projections, the
// Prometheus text format at /metrics; /ready uses `unready` below. Both kinds
// of projection are reported alike; a document projection has no dead
// letters yet (its worker fails on an event its plan refuses: state failed,
// /ready 503), so it lists none and refuses a retry with a typed error.
import assert from "node:assert/strict";
import type pg from "pg";
import { z } from "zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { TrueupError, positionDto } from "@trueup/contracts";
import type { EventStore, VisibilityReport } from "@trueup/event-store";
import { LAG_COUNT_MAX_DEFAULT, UNREADY_AFTER_FAILURES, countDeadLetters, listDeadLetters, projectionLag, retryDeadLetters } from "@trueup/projections";
import type { DocumentProjectionWorker, DocumentSink, ProjectionLag, ProjectionRegistry, ProjectionWorker, RegisteredProjection, WorkerState } from "@trueup/projections";
import type { RoutesPlugin } from "./app.ts";
import { documentProjectionLag } from "./document-read-models.ts";
import { METRICS_DOCS, PROJECTIONS_DOCS, RETRY_DOCS } from "./http/openapi.ts";

const WORKER_STATES: readonly WorkerState[] = ["idle", "running", "retrying", "halted", "failed", "stopped"];

export interface OperationsDeps {
  readonly pool: pg.Pool;
  readonly eventStore: EventStore;
  readonly registry: ProjectionRegistry;
  /** The workers of this process (none unless it runs the projections service). */
  readonly workers: readonly ProjectionWorker[];
  /** The document projections' workers of this process (none unless it runs the projections service). */
  readonly documentWorkers: readonly DocumentProjectionWorker[];
  /** The document store: open whenever a document projection is registered. */
  readonly documents: Pick<DocumentSink, "readCheckpoint"> | undefined;
}

/** Why this process cannot serve current read models: a worker of it stopped or cannot work now. */
export function unready(workers: readonly ProjectionWorker[], documentWorkers: readonly DocumentProjectionWorker[] = []): string | undefined {
  const reasons = [...workers.map((worker) => worker.unreadyReason), ...documentWorkers.map(documentUnreadyReason)].filter((reason) => reason !== undefined);
  return reasons.length === 0 ? undefined : reasons.join("; ");
}

/** A document worker's reason, on the PostgreSQL worker's terms (UNREADY_AFTER_FAILURES: one retried deadlock is no outage). */
export function documentUnreadyReason(worker: DocumentProjectionWorker): string | undefined {
  const { state, consecutiveFailures, lastError } = worker.status;
  const name = worker.projection.name;
  switch (state) {
    case "running":
      return undefined;
    case "retrying":
      return consecutiveFailures < UNREADY_AFTER_FAILURES ? undefined : `projection ${name} cannot work: ${consecutiveFailures} failures in a row, the last: ${lastError ?? "-"}`;
    case "failed":
      return `projection ${name} has stopped: ${lastError ?? "-"}`;
    case "idle":
    case "stopped":
      return `projection ${name} is not running`;
    default: {
      const unknown: never = state;
      throw new TypeError(`unknown document worker state ${String(unknown)}`);
    }
  }
}

/** What /projections and /metrics say of one worker of this process, whichever kind. */
interface WorkerView {
  readonly status: {
    readonly state: WorkerState;
    readonly consecutiveFailures: number;
    readonly lastError: string | undefined;
    /** PostgreSQL workers only: a document worker is never held on a dead letter. */
    readonly haltedAt: string | undefined;
    readonly since: Date;
  };
  readonly unreadyReason: string | undefined;
}

const workerSchema = z.object({
  state: z.enum(WORKER_STATES as [WorkerState, ...WorkerState[]]),
  consecutiveFailures: z.number().int(),
  lastError: z.string().nullable(),
  haltedAt: positionDto.nullable(),
  since: z.string(),
});
const deadLetterSchema = z.object({
  position: positionDto, eventId: z.string(), streamName: z.string(), type: z.string(), error: z.string(),
  status: z.enum(["parked", "blocking", "resolved"]), attempts: z.number().int(), parkedAt: z.string(), retryRequestedAt: z.string().nullable(),
});

/** How much of the committed log readers can see, and who holds the rest back (the event store's visibility()). */
const visibilitySchema = z.object({
  newestCommitted: z.string().nullable(),
  newestVisible: z.string().nullable(),
  heldBackEvents: z.number().int(),
  horizonHeldBy: z
    .object({ pid: z.number().int(), applicationName: z.string(), state: z.string(), transactionStartedAt: z.string().nullable(), heldForSeconds: z.number() })
    .nullable(),
});

function visibilityView(report: VisibilityReport): z.infer<typeof visibilitySchema> {
  const holder = report.holder;
  return {
    newestCommitted: report.newestCommitted ?? null,
    newestVisible: report.newestVisible ?? null,
    heldBackEvents: report.heldBackEvents,
    horizonHeldBy:
      holder === undefined
        ? null
        : { pid: holder.pid, applicationName: holder.applicationName, state: holder.state, transactionStartedAt: holder.transactionStartedAt?.toISOString() ?? null, heldForSeconds: holder.heldForMs / 1000 },
  };
}

interface Look {
  readonly projection: RegisteredProjection;
  readonly lag: ProjectionLag;
  readonly deadLetters: { readonly parked: number; readonly blocking: number };
}

const NO_DEAD_LETTERS = { parked: 0, blocking: 0 } as const;

export function operationsRoutes(deps: OperationsDeps): RoutesPlugin {
  const workerOf = (projection: RegisteredProjection): WorkerView | undefined => {
    switch (projection.kind) {
      case "postgres": {
        const worker = deps.workers.find((w) => w.projection.name === projection.name);
        return worker === undefined ? undefined : { status: worker.status, unreadyReason: worker.unreadyReason };
      }
      case "document": {
        const worker = deps.documentWorkers.find((w) => w.projection.name === projection.name);
        return worker === undefined ? undefined : { status: { ...worker.status, haltedAt: undefined }, unreadyReason: documentUnreadyReason(worker) };
      }
      default: {
        const unknown: never = projection;
        throw new TypeError(`unknown projection kind ${String((unknown as { kind?: unknown }).kind)}`);
      }
    }
  };
  const lookAt = async (projection: RegisteredProjection): Promise<Look> => {
    switch (projection.kind) {
      case "postgres": {
        const [lag, deadLetters] = await Promise.all([
          projectionLag({ pool: deps.pool, eventStore: deps.eventStore, projection, lagCountMax: LAG_COUNT_MAX_DEFAULT }),
          countDeadLetters(deps.pool, projection),
        ]);
        return { projection, lag, deadLetters };
      }
      case "document": {
        assert.ok(deps.documents !== undefined, `the document store is open whenever a document projection (${projection.name}) is registered`);
        const lag = await documentProjectionLag({ sink: deps.documents, eventStore: deps.eventStore, projection, lagCountMax: LAG_COUNT_MAX_DEFAULT });
        return { projection, lag, deadLetters: NO_DEAD_LETTERS };
      }
      default: {
        const unknown: never = projection;
        throw new TypeError(`unknown projection kind ${String((unknown as { kind?: unknown }).kind)}`);
      }
    }
  };
  // Each look reads at most LAG_COUNT_MAX_DEFAULT events per projection; scrapes that arrive while one look
  // runs share it, so the cost is bounded by the look, not by the number of scrapers.
  let looking: Promise<Look[]> | undefined;
  const look = (): Promise<Look[]> => Promise.all(deps.registry.all().map(lookAt));
  const lookAll = (): Promise<Look[]> =>
    (looking ??= look().finally(() => {
      looking = undefined;
    }));
  return async (root) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.get(
      "/projections",
      {
        schema: {
          tags: PROJECTIONS_DOCS.tags,
          summary: PROJECTIONS_DOCS.summary,
          description: PROJECTIONS_DOCS.description,
          response: {
            ...PROJECTIONS_DOCS.response,
            200: z.object({
              items: z.array(z.object({
                name: z.string(), eventsBehind: z.number().int(), eventsBehindCapped: z.boolean(), eventsHeldBack: z.number().int(), secondsBehind: z.number(), checkpoint: z.string().nullable(), head: z.string().nullable(),
                /** Null when the worker runs in another process. */
                worker: workerSchema.nullable(),
                deadLetters: z.object({ parked: z.number().int(), blocking: z.number().int(), items: z.array(deadLetterSchema) }),
              })),
              eventStore: visibilitySchema,
            }).meta({ example: PROJECTIONS_DOCS.example }),
          },
        },
      },
      async () => {
        const [looked, visibility] = await Promise.all([lookAll(), deps.eventStore.visibility()]);
        const items = await Promise.all(looked.map(async ({ projection, lag, deadLetters: counts }) => {
          const letters = projection.kind === "document" || counts.parked + counts.blocking === 0 ? [] : await listDeadLetters(deps.pool, projection);
          const status = workerOf(projection)?.status;
          return {
            // Behind the newest committed event: held-back events count, or an open transaction elsewhere would read as "caught up".
            name: projection.name, eventsBehind: lag.positionsBehind + lag.heldBackEvents, eventsBehindCapped: lag.positionsBehindCapped, eventsHeldBack: lag.heldBackEvents, secondsBehind: lag.secondsBehind,
            checkpoint: lag.checkpoint ?? null, head: lag.head ?? null,
            worker: status === undefined ? null : { state: status.state, consecutiveFailures: status.consecutiveFailures, lastError: status.lastError ?? null, haltedAt: status.haltedAt ?? null, since: status.since.toISOString() },
            deadLetters: {
              ...counts,
              items: letters.map((d) => ({ position: d.position, eventId: d.eventId, streamName: d.streamName, type: d.type, error: d.error, status: d.status, attempts: d.attempts, parkedAt: d.parkedAt.toISOString(), retryRequestedAt: d.retryRequestedAt?.toISOString() ?? null })),
            },
          };
        }));
        return { items, eventStore: visibilityView(visibility) };
      },
    );
    // The operator's command after a fix: parked events are applied again now, a worker held on a dead letter tries it again.
    app.post(
      "/projections/:name/retry",
      {
        schema: {
          tags: RETRY_DOCS.tags,
          summary: RETRY_DOCS.summary,
          description: RETRY_DOCS.description,
          params: z.object({ name: z.string().min(1).max(100) }),
          response: {
            ...RETRY_DOCS.response,
            200: z.object({ name: z.string(), retryRequested: z.number().int(), resolved: z.number().int(), stillFailing: z.number().int() }).meta({ example: RETRY_DOCS.example }),
          },
        },
      },
      async (request) => {
        const projection = deps.registry.all().find((p) => p.name === request.params.name);
        if (projection === undefined) throw new TrueupError("PROJECTION_NOT_FOUND", `no projection named ${request.params.name}`, { path: ["name"] });
        if (projection.kind === "document") {
          throw new TrueupError(
            "VALIDATION_FAILED",
            `params/name: projection ${projection.name} writes documents, which keep no dead letters to retry (a failed document worker starts again with its process)`,
            { path: ["name"], in: "params" },
          );
        }
        const result = await retryDeadLetters({ pool: deps.pool, eventStore: deps.eventStore, projection });
        deps.workers.find((w) => w.projection.name === projection.name)?.retryNow();
        return { name: projection.name, ...result };
      },
    );
    const { example: metricsExample, response: metricsProblems, ...metrics } = METRICS_DOCS;
    const metricsSchema = { ...metrics, produces: ["text/plain"], response: { 200: { description: "Prometheus text", content: { "text/plain": { schema: z.string().meta({ example: metricsExample }) } } }, ...metricsProblems } };
    app.get("/metrics", { schema: metricsSchema }, async (_request, reply) => {
      const projections = deps.registry.all();
      // The workers' own state needs no database: it is reported even in an outage, when the lag cannot be read.
      const [looked, visibility] = await Promise.all([lookAll().catch(() => undefined), deps.eventStore.visibility().catch(() => undefined)]);
      const stored = projections.map((projection) => {
        const found = looked?.find((l) => l.projection === projection);
        return { projection, lag: found?.lag, counts: found?.deadLetters };
      });
      const lines: string[] = [];
      const gauge = (name: string, help: string, rows: readonly string[]): void => {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...rows);
      };
      const label = (projection: RegisteredProjection): string => `projection="${projection.name}"`;
      gauge("trueup_projection_lag_events", `Events after the projection's checkpoint (capped at ${LAG_COUNT_MAX_DEFAULT}).`,
        stored.flatMap(({ projection, lag }) => (lag === undefined ? [] : [`trueup_projection_lag_events{${label(projection)}} ${lag.positionsBehind}`])));
      gauge("trueup_projection_lag_seconds", "Age of the oldest event the projection has not applied.",
        stored.flatMap(({ projection, lag }) => (lag === undefined ? [] : [`trueup_projection_lag_seconds{${label(projection)}} ${lag.secondsBehind}`])));
      gauge("trueup_projection_read_model_reachable", "1 when this process could read the projection's checkpoint and the log for this scrape.",
        stored.map(({ projection, lag }) => `trueup_projection_read_model_reachable{${label(projection)}} ${lag === undefined ? 0 : 1}`));
      gauge("trueup_projection_dead_letters", "Unresolved dead letters: parked (moved past) or blocking (the projection is held on it).",
        stored.flatMap(({ projection, counts }) => (counts === undefined ? [] : [
          `trueup_projection_dead_letters{${label(projection)},status="parked"} ${counts.parked}`,
          `trueup_projection_dead_letters{${label(projection)},status="blocking"} ${counts.blocking}`,
        ])));
      const workers = projections.flatMap((projection) => {
        const worker = workerOf(projection);
        return worker === undefined ? [] : [{ projection, worker }];
      });
      gauge("trueup_projection_up", "1 when this process's worker keeps the projection current (not failed, not halted, not in an outage).",
        workers.map(({ projection, worker }) => `trueup_projection_up{${label(projection)}} ${worker.unreadyReason === undefined ? 1 : 0}`));
      gauge("trueup_projection_state", "1 for the state this process's worker is in.",
        workers.flatMap(({ projection, worker }) => WORKER_STATES.map((state) => `trueup_projection_state{${label(projection)},state="${state}"} ${worker.status.state === state ? 1 : 0}`)));
      gauge("trueup_projection_consecutive_failures", "Failures in a row of this process's worker (transient ones are retried for as long as they last).",
        workers.map(({ projection, worker }) => `trueup_projection_consecutive_failures{${label(projection)}} ${worker.status.consecutiveFailures}`));
      gauge("trueup_event_store_held_back_events", "Committed events a running transaction hides from every reader (PostgreSQL visibility horizon).",
        visibility === undefined ? [] : [`trueup_event_store_held_back_events ${visibility.heldBackEvents}`]);
      gauge("trueup_event_store_horizon_held_seconds", "How long the transaction holding events back has been open; 0 when nothing is held.",
        visibility === undefined ? [] : [`trueup_event_store_horizon_held_seconds ${(visibility.holder?.heldForMs ?? 0) / 1000}`]);
      lines.push("");
      return reply.type("text/plain; version=0.0.4").send(lines.join("\n"));
    });
  };
}
