// Test support: a composed Trueup (every service) over a fresh database in
// the run's embedded PostgreSQL, driven only through app.inject().
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { PostgresEventStore } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import type { ImportRouteOptions } from "@trueup/command-side";
import type { RetryPolicy } from "@trueup/projections";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { compose } from "../src/compose.ts";
import type { Composed } from "../src/compose.ts";

/** The body of an accepted ledger command (see the command runner's outcome fields). */
export interface Accepted {
  ledgerId: string;
  entryId?: string;
  code?: string;
  period?: string;
  revision: string | null;
  position: string | null;
  replayed: boolean;
}

export interface Platform {
  readonly app: FastifyInstance;
  readonly db: TestDatabase;
  /** The real store (faults, if any, are only on the one the platform uses). */
  readonly store: PostgresEventStore;
  readonly composed: Composed;
  close(): Promise<void>;
}

export interface PlatformOptions {
  poolMax?: number;
  ownRole?: boolean;
  projectionRetry?: RetryPolicy;
  /** Statement import limits and spool directory (config TRUEUP_IMPORT_*). */
  imports?: ImportRouteOptions;
  /** The store the platform uses, around the real one (faults); `store` stays the real one. */
  wrap?: (store: PostgresEventStore) => EventStore;
  /** Continuous reconciliation (default off here: most tests start their runs themselves and count what those did). */
  continuousMatching?: boolean;
}

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const db = await createTestDatabase({ poolMax: options.poolMax ?? 30, ownRole: options.ownRole ?? false });
  const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  const composed = await compose({
    services: ["command", "projections", "query"],
    logLevel: "silent",
    pool: db.pool,
    eventStore: options.wrap?.(store) ?? store,
    ...(options.projectionRetry === undefined ? {} : { projectionRetry: options.projectionRetry }),
    ...(options.imports === undefined ? {} : { imports: options.imports }),
    continuousMatching: options.continuousMatching ?? false,
    ping: async () => {
      await db.pool.query("SELECT 1");
    },
  });
  return {
    app: composed.app,
    db,
    store,
    composed,
    close: async () => {
      await composed.close();
      await store.close();
      await db.drop();
    },
  };
}

let keys = 0;
export function key(): string {
  keys += 1;
  return `k-${process.pid}-${Date.now()}-${keys}`;
}

export function command(app: FastifyInstance, url: string, payload: unknown, idempotencyKey: string = key()): Promise<LightMyRequestResponse> {
  return app.inject({ method: "POST", url, payload: payload as object, headers: { "idempotency-key": idempotencyKey, "content-type": "application/json" } });
}

export async function query(app: FastifyInstance, url: string, minPosition?: string | null): Promise<LightMyRequestResponse> {
  const separator = url.includes("?") ? "&" : "?";
  return app.inject({ method: "GET", url: minPosition === undefined || minPosition === null ? url : `${url}${separator}minPosition=${minPosition}` });
}

export { seededRandom as random } from "../../test-support/random.ts";
