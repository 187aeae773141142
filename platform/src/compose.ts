// Wires the bounded contexts onto storage: which routes and workers run is
// decided by the selected services. One place knows every package; none of
// the packages knows each other beyond contracts and the event-store port.
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import { z } from "zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { IdempotencyStore, InFlight, LedgerCommandService, ledgerCommandRoutes } from "@trueup/command-side";
import type { EventStore, Position } from "@trueup/event-store";
import { PostgresEventStore, parsePosition } from "@trueup/event-store";
import { ProjectionWorker, ledgerProjection, openProjectionSchema, projectionLag, waitForCheckpoint } from "@trueup/projections";
import { LedgerReader, ledgerQueryRoutes } from "@trueup/query-side";
import type { Service } from "./config.ts";
import { buildApp } from "./app.ts";
import type { RoutesPlugin } from "./app.ts";

/** After the commands in flight have answered, how long other requests (queries) get before their connections are cut. */
export const CLOSE_GRACE_MS = 1_000;

export interface ComposeOptions {
  readonly services: readonly Service[];
  readonly logLevel: string;
  readonly pool: pg.Pool;
  /**
   * Connections with synchronous_commit off, for writes whose durability the
   * event log already provides: projection batches (replayed from the durable
   * checkpoint after a crash) and idempotency keys (see IdempotencyStore).
   * Defaults to `pool`.
   */
  readonly relaxedPool?: pg.Pool;
  readonly eventStore: EventStore;
  readonly ping: () => Promise<void>;
}

export interface Composed {
  readonly app: FastifyInstance;
  readonly worker: ProjectionWorker | undefined;
  close(): Promise<void>;
}

export async function compose(options: ComposeOptions): Promise<Composed> {
  const { pool, eventStore, services } = options;
  const relaxedPool = options.relaxedPool ?? pool;
  // Tables exist before any reader or the entry locator touches them; only the worker writes rows.
  await openProjectionSchema({ pool, eventStore, projection: ledgerProjection });
  const reader = new LedgerReader(pool, ledgerProjection.schemaName);
  const plugins: RoutesPlugin[] = [];
  const commands = new InFlight();

  if (services.includes("command")) {
    const idempotency = await IdempotencyStore.open(relaxedPool);
    // With the log in PostgreSQL (the same database as the keys), a posting's answer is stored in its events'
    // transaction, and its accounts are guarded against a close until it commits.
    const atomic = eventStore instanceof PostgresEventStore ? idempotency.atomicAppender(eventStore) : undefined;
    const service = new LedgerCommandService(eventStore, (ledgerId, entryId) => reader.entryLocation(ledgerId, entryId), atomic);
    plugins.push(ledgerCommandRoutes({ service, idempotency, inFlight: commands }));
  }
  if (services.includes("query")) {
    const waitForPosition = async (position: string, timeoutMs: number): Promise<boolean> => {
      const parsed = parsePosition(position);
      if (parsed === undefined) return false;
      return waitForCheckpoint({ pool, projection: ledgerProjection, position: parsed, timeoutMs });
    };
    plugins.push(ledgerQueryRoutes({ reader, waitForPosition }));
  }
  plugins.push(operationsRoutes({ pool, eventStore }));

  const worker = services.includes("projections") ? new ProjectionWorker({ pool: relaxedPool, eventStore, projection: ledgerProjection }) : undefined;
  const app = await buildApp({ services, logLevel: options.logLevel, ping: options.ping, plugins });
  const running = worker?.start();
  running?.catch((error: unknown) => {
    app.log.fatal({ err: error }, "projection worker stopped");
  });
  return {
    app,
    worker,
    close: async () => {
      // No new requests; the commands already running finish (their clients may be gone) before storage closes.
      const serverClosed = app.close();
      await commands.settled();
      // A connection with nothing in flight that Node does not count as idle (connected, no request sent yet)
      // would hold the close until its timeout: past a short grace, such connections are cut.
      const grace = new Promise<false>((resolve) => setTimeout(() => { resolve(false); }, CLOSE_GRACE_MS).unref());
      if (!(await Promise.race([serverClosed.then(() => true as const), grace]))) app.server.closeAllConnections();
      await serverClosed;
      await worker?.stop();
    },
  };
}

/** Lag of each projection as JSON and in the Prometheus text format. */
function operationsRoutes(deps: { pool: pg.Pool; eventStore: EventStore }): RoutesPlugin {
  const lagOf = () => projectionLag({ pool: deps.pool, eventStore: deps.eventStore, projection: ledgerProjection, lagCountMax: 100_000 });
  return async (root) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.get(
      "/projections",
      {
        schema: {
          tags: ["operations"],
          response: {
            200: z.object({
              items: z.array(z.object({ name: z.string(), eventsBehind: z.number().int(), eventsBehindCapped: z.boolean(), secondsBehind: z.number(), checkpoint: z.string().nullable(), head: z.string().nullable() })),
            }),
          },
        },
      },
      async () => {
        const lag = await lagOf();
        const checkpoint: Position | undefined = lag.checkpoint;
        return {
          items: [{ name: ledgerProjection.name, eventsBehind: lag.positionsBehind, eventsBehindCapped: lag.positionsBehindCapped, secondsBehind: lag.secondsBehind, checkpoint: checkpoint ?? null, head: lag.head ?? null }],
        };
      },
    );
    app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
      const lag = await lagOf();
      const name = ledgerProjection.name;
      const body = [
        "# HELP trueup_projection_lag_events Events after the projection's checkpoint (capped at 100000).",
        "# TYPE trueup_projection_lag_events gauge",
        `trueup_projection_lag_events{projection="${name}"} ${lag.positionsBehind}`,
        "# HELP trueup_projection_lag_seconds Age of the oldest event the projection has not applied.",
        "# TYPE trueup_projection_lag_seconds gauge",
        `trueup_projection_lag_seconds{projection="${name}"} ${lag.secondsBehind}`,
        "",
      ].join("\n");
      return reply.type("text/plain; version=0.0.4").send(body);
    });
  };
}
