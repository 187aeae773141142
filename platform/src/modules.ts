// A bounded context as the composition root sees it: its command routes,
// its query routes and the projections it owns. compose.ts loops over the
// list below; adding a context (reconciliation is next) is adding a module
// here, not another set of lines in compose.ts. A module is only wiring: its
// domain lives in the workspaces (command-side, projections, query-side).
import type pg from "pg";
import type { AtomicAppender, IdempotencyStore, ImportRouteOptions, InFlight } from "@trueup/command-side";
import type { EventStore } from "@trueup/event-store";
import type { DocumentSink, RegisteredProjection } from "@trueup/projections";
import type { RoutesPlugin } from "./app.ts";
import { ledgerModule } from "./ledger-module.ts";
import { reconciliationModule } from "./reconciliation-module.ts";

/** What a context's command routes get from the platform. */
export interface CommandRouteDeps {
  readonly pool: pg.Pool;
  readonly eventStore: EventStore;
  readonly idempotency: IdempotencyStore;
  /** Present when the event store can store answers with the events (PostgreSQL). */
  readonly atomic: AtomicAppender | undefined;
  /** Every command runs under it, so a shutdown can wait for them. */
  readonly inFlight: InFlight;
  /** Throws READ_MODEL_NOT_READY (503) until the module's `commandReads` exist at their version; call before reading one. */
  readonly assertReadModelsReady: () => void;
  /** Limits and spool directory of the statement imports (config TRUEUP_IMPORT_*). */
  readonly imports?: ImportRouteOptions | undefined;
}

/** What a context's query routes get from the platform. */
export interface QueryRouteDeps {
  readonly pool: pg.Pool;
  /** For reads that must come from the log (never written through). */
  readonly eventStore: EventStore;
  /** Resolves true once `projection` has applied the log up to `position` (a position string from a command); false after `timeoutMs`. */
  readonly waitForPosition: (projection: RegisteredProjection, position: string, timeoutMs: number) => Promise<boolean>;
  /** Reads of the document read models (MongoDB, or PostgreSQL JSONB): present whenever a document projection is registered. */
  readonly documents: DocumentReader | undefined;
}

/** What a query may do with the document store: read, never write. */
export type DocumentReader = Pick<DocumentSink, "get" | "list" | "count">;

/** What a context's process managers get: the log, and the transactional append their commands use where there is one. */
export interface ProcessManagerDeps {
  readonly eventStore: EventStore;
  readonly atomic: AtomicAppender | undefined;
  /** The read models' pool: a process manager that decides from them (continuous matching's runs) reads there. */
  readonly pool: pg.Pool;
  /** Whether continuous reconciliation runs at all (ComposeOptions.continuousMatching); each account also has its own switch. */
  readonly continuousMatching: boolean;
}

export interface BoundedContextModule {
  /** For logs and errors, e.g. "ledger". */
  readonly name: string;
  /** The projections this context owns; their names and schemas are unique across every module. */
  readonly projections: readonly RegisteredProjection[];
  /**
   * Projections the command routes read (ideally none: decisions come from the
   * log). A command-only process reports /ready 503 until these exist at their
   * version; the routes that read them call assertReadModelsReady first.
   */
  readonly commandReads: readonly RegisteredProjection[];
  /**
   * Process managers: projections whose apply sends commands to another
   * context (processManagerProjection). Run by the projections service
   * beside the projections; no process reads them.
   */
  processManagers?(deps: ProcessManagerDeps): readonly RegisteredProjection[];
  commandRoutes?(deps: CommandRouteDeps): RoutesPlugin;
  queryRoutes?(deps: QueryRouteDeps): RoutesPlugin;
}

/** Every bounded context the platform serves, in registration order. */
export const MODULES: readonly BoundedContextModule[] = [ledgerModule, reconciliationModule];
