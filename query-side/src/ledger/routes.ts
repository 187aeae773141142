// The ledger's query API: balances (now and as of a date), trial balance,
// account statements with running balance, journal entries, and the hledger
// export, one module per resource under ./http. Lists are cursor-paginated
// with a bounded page size; every query takes `minPosition` to read its own
// writes without sleeping, and refuses parameters it does not know.
import type { FastifyInstance } from "fastify";
import { accountRoutes } from "./http/accounts.ts";
import { entryRoutes } from "./http/entries.ts";
import { exportRoutes } from "./http/export.ts";
import { QueryGuards } from "./http/shared.ts";
import type { LedgerQueryRoutesDeps } from "./http/shared.ts";
import { statementRoutes } from "./http/statement.ts";
import { trialBalanceRoutes } from "./http/trial-balance.ts";

export { QUERY_LIMITS } from "./http/shared.ts";
export type { LedgerQueryRoutesDeps } from "./http/shared.ts";
export { trialBalanceJson, trialBalanceResponse } from "./http/trial-balance.ts";

const RESOURCES = [accountRoutes, statementRoutes, entryRoutes, trialBalanceRoutes, exportRoutes];

export function ledgerQueryRoutes(deps: LedgerQueryRoutesDeps) {
  const guards = new QueryGuards(deps);
  return async (app: FastifyInstance): Promise<void> => {
    for (const register of RESOURCES) register({ app, reader: deps.reader, guards });
  };
}
