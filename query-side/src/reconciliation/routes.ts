// The reconciliation context's query API: bank accounts, statements and
// their lines, read from the reconciliation read model.
import type { FastifyInstance } from "fastify";
import type pg from "pg";

export interface ReconciliationQueryRoutesDeps {
  readonly pool: pg.Pool;
  /** Resolves true once the reconciliation read model has applied the log up to `position`; false after `timeoutMs`. */
  readonly waitForPosition: (position: string, timeoutMs: number) => Promise<boolean>;
}

export function reconciliationQueryRoutes(deps: ReconciliationQueryRoutesDeps) {
  // Each slice registers its routes here: `await app.register(…Routes(deps));`.
  return async (app: FastifyInstance): Promise<void> => {
    app.log.debug({ deps: Object.keys(deps) }, "reconciliation routes");
    await Promise.resolve();
  };
}
