// Wires the bounded contexts onto storage: which routes and workers run is
// decided by the selected services. One place knows every package; none of
// the packages knows each other beyond contracts and the event-store port.
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import { IdempotencyStore, InFlight } from "@trueup/command-side";
import type { ImportRouteOptions } from "@trueup/command-side";
import type { EventStore, Position } from "@trueup/event-store";
import { parsePosition } from "@trueup/event-store";
import { CheckpointWaiters, DocumentProjectionWorker, ProjectionRegistry, ProjectionWorker, RETRY_DEFAULT, WAITER_LIMITS, openProjectionSchema } from "@trueup/projections";
import type { RegisteredProjection, RetryPolicy } from "@trueup/projections";
import type { Service } from "./config.ts";
import { buildApp } from "./app.ts";
import { DocumentCheckpointWaiters, openDocumentSink } from "./document-read-models.ts";
import type { RoutesPlugin } from "./app.ts";
import { MODULES } from "./modules.ts";
import { operationsRoutes, unready } from "./operations.ts";
import { ReadModelGate } from "./read-model-gate.ts";
import type { BoundedContextModule } from "./modules.ts";

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
  /** Backoff of the projection workers' retries in an outage (they retry for as long as it lasts); defaults to RETRY_DEFAULT. */
  readonly projectionRetry?: RetryPolicy;
  /** The bounded contexts to serve; defaults to every one (MODULES). */
  readonly modules?: readonly BoundedContextModule[];
  /** Poll interval and bound of a non-projections process's wait for its read models (READ_MODEL_GATE_LIMITS). */
  readonly readModelGate?: { readonly pollMs?: number; readonly waitMaxMs?: number };
  /** Reads with minPosition that may wait at once per projection; beyond: 503 OVERLOADED (default WAITER_LIMITS.waitersMax). */
  readonly readWaitersMax?: number;
  /** Limits and spool directory of the statement imports (config TRUEUP_IMPORT_*); defaults: IMPORT_ROUTE_LIMITS, os.tmpdir(). */
  readonly imports?: ImportRouteOptions;
  /** MONGO_URL: the document read models in MongoDB; without it they are JSONB tables in `pool` (DOCUMENT_SCHEMA_NAME). */
  readonly mongoUrl?: string | undefined;
  /**
   * The continuous-matching process manager (default true; each bank
   * account's rules switch it too). Tests of explicit runs turn it off so
   * a run they start is the only one.
   */
  readonly continuousMatching?: boolean;
}

export interface Composed {
  readonly app: FastifyInstance;
  readonly registry: ProjectionRegistry;
  /** One per registered PostgreSQL projection when this process runs the projections service, else none. */
  readonly workers: readonly ProjectionWorker[];
  /** One per registered document projection when this process runs the projections service, else none. */
  readonly documentWorkers: readonly DocumentProjectionWorker[];
  /**
   * Resolves once every read model this process reads exists at this build's
   * version (at once in the projections service, which creates them); rejects
   * when the bounded wait for the projections service ran out.
   */
  readonly readModelsReady: Promise<void>;
  close(): Promise<void>;
}

export async function compose(options: ComposeOptions): Promise<Composed> {
  const { pool, eventStore, services } = options;
  const relaxedPool = options.relaxedPool ?? pool;
  const modules = options.modules ?? MODULES;
  const runsProjections = services.includes("projections");
  const runsCommands = services.includes("command");
  // Claims and successes' answers may be relaxed; refusals may not (see IdempotencyStore). Commands use it, and so
  // do process managers (they send commands): when the store offers a transactional append (the PostgreSQL log, the
  // same database as the keys), a posting's answer is stored in its events' transaction, and its accounts are guarded
  // against a close until it commits.
  const idempotency = runsCommands || runsProjections ? await IdempotencyStore.open(relaxedPool, { durablePool: pool }) : undefined;
  const transactional = eventStore.capabilities.transactionalAppend;
  const atomic = idempotency === undefined || transactional === undefined ? undefined : idempotency.atomicAppender(transactional);
  const registry = new ProjectionRegistry(modules.flatMap((m) => [...m.projections, ...(m.processManagers?.({ eventStore, atomic, pool, continuousMatching: options.continuousMatching ?? true }) ?? [])]));
  // Only the projections service creates or rebuilds read-model schemas (before any reader here touches them;
  // only the workers write rows). Any other process waits behind the gate until what it reads is there.
  if (runsProjections) for (const projection of registry.postgres()) await openProjectionSchema({ pool, eventStore, projection });
  // One document store for every document projection, in every process: the workers write it, queries read it, and
  // the operations routes of any process report its projections' lag (see openDocumentSink on its schema).
  const opened = registry.documents().length > 0 ? await openDocumentSink({ pool, mongoUrl: options.mongoUrl }) : undefined;
  const documents = opened?.sink;
  const gate = new ReadModelGate({ pool, documents, projections: runsProjections ? [] : readProjections(modules, services), ...options.readModelGate });
  const plugins: RoutesPlugin[] = [];
  const commands = new InFlight();

  if (runsCommands && idempotency !== undefined) {
    for (const module of modules) {
      if (module.commandRoutes === undefined) continue;
      plugins.push(module.commandRoutes({ pool, eventStore, idempotency, atomic, inFlight: commands, assertReadModelsReady: () => { gate.assertOpen(); }, imports: options.imports }));
    }
  }
  const waitersMax = options.readWaitersMax ?? WAITER_LIMITS.waitersMax;
  const retry = options.projectionRetry ?? RETRY_DEFAULT;
  const workers = runsProjections ? registry.postgres().map((projection) => new ProjectionWorker({ pool: relaxedPool, eventStore, projection, retry, waitersMax })) : [];
  const documentWorkers = runsProjections && documents !== undefined ? registry.documents().map((projection) => new DocumentProjectionWorker({ eventStore, sink: documents, projection, retry })) : [];
  if (services.includes("query")) {
    // Waits are woken by the worker's commits when it runs here, else by one shared poller per projection.
    const waiting = new Map<string, (position: Position, timeoutMs: number) => Promise<boolean>>();
    for (const projection of registry.postgres()) {
      const worker = workers.find((w) => w.projection === projection);
      const waiters = worker === undefined ? new CheckpointWaiters({ pool, projection, waitersMax }) : undefined;
      waiting.set(projection.name, (position, timeoutMs) => worker?.waitForPosition(position, timeoutMs) ?? waiters?.wait(position, timeoutMs) ?? Promise.resolve(false));
    }
    for (const projection of registry.documents()) {
      const worker = documentWorkers.find((w) => w.projection === projection);
      assert.ok(documents !== undefined, "the document store is open whenever a document projection is registered");
      const waiters = worker === undefined ? new DocumentCheckpointWaiters({ sink: documents, projection, waitersMax }) : undefined;
      waiting.set(projection.name, (position, timeoutMs) => worker?.waitForPosition(position, timeoutMs) ?? waiters?.wait(position, timeoutMs) ?? Promise.resolve(false));
    }
    const waitForPosition = async (projection: RegisteredProjection, position: string, timeoutMs: number): Promise<boolean> => {
      const parsed = parsePosition(position);
      if (parsed === undefined) return false;
      const wait = waiting.get(projection.name);
      assert.ok(wait !== undefined, `projection ${projection.name} is not registered`);
      return wait(parsed, timeoutMs);
    };
    for (const module of modules) {
      if (module.queryRoutes !== undefined) plugins.push(gate.guard(module.queryRoutes({ pool, eventStore, waitForPosition, documents })));
    }
  }
  plugins.push(operationsRoutes({ pool, eventStore, registry, workers, documentWorkers, documents }));
  // Not ready while storage is away, the read models are not there yet, or a worker of this process has
  // stopped, is held on a dead letter, or cannot reach storage: every reason is given.
  const ping = async (): Promise<void> => {
    const storage = await options
      .ping()
      .then(() => { gate.assertOpen(); })
      .then(() => undefined, (error: unknown) => (error instanceof Error ? error.message : String(error)));
    const reasons = [storage, unready(workers, documentWorkers)].filter((reason) => reason !== undefined);
    if (reasons.length > 0) throw new Error(reasons.join("; "));
  };
  const app = await buildApp({ services, logLevel: options.logLevel, ping, plugins });
  if (opened !== undefined) app.log.info(`document read models: ${opened.description}`);
  const readModelsReady = gate.start(app.log);
  // Observed here: the caller decides what a failed wait means (main.ts exits non-zero).
  readModelsReady.catch(() => undefined);
  for (const worker of [...workers, ...documentWorkers]) {
    worker.start().catch((error: unknown) => {
      app.log.fatal({ err: error, projection: worker.projection.name }, "projection worker stopped");
    });
  }
  return {
    app,
    registry,
    workers,
    documentWorkers,
    readModelsReady,
    close: async () => {
      gate.stop();
      // No new requests; the commands already running finish (their clients may be gone) before storage closes.
      const serverClosed = app.close();
      await commands.settled();
      // A connection with nothing in flight that Node does not count as idle (connected, no request sent yet)
      // would hold the close until its timeout: past a short grace, such connections are cut.
      const grace = new Promise<false>((resolve) => setTimeout(() => { resolve(false); }, CLOSE_GRACE_MS).unref());
      if (!(await Promise.race([serverClosed.then(() => true as const), grace]))) app.server.closeAllConnections();
      await serverClosed;
      await Promise.all([...workers, ...documentWorkers].map((worker) => worker.stop()));
      // After its workers: a MongoDB sink closes its client; the JSONB sink borrows the pool and closes nothing.
      await documents?.close();
    },
  };
}

/** The projections the selected services read: every query module's, and what command routes read. */
function readProjections(modules: readonly BoundedContextModule[], services: readonly Service[]): RegisteredProjection[] {
  const read = new Set<RegisteredProjection>();
  for (const module of modules) {
    if (services.includes("query") && module.queryRoutes !== undefined) for (const p of module.projections) read.add(p);
    if (services.includes("command") && module.commandRoutes !== undefined) for (const p of module.commandReads) read.add(p);
  }
  return [...read];
}
