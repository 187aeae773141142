// The reconciliation context's query API: bank accounts, statements and
// their lines, read from the reconciliation read model (matches from the
// matching read model, their case files from the document read model, and
// matching rules from the log), one module per resource under ./http. Lists
// are cursor-paginated with a bounded page size; every query takes
// `minPosition` to read its own writes without sleeping, and refuses
// parameters it does not know.
import type { FastifyInstance } from "fastify";
import { bankAccountRoutes } from "./http/bank-accounts.ts";
import { caseRoutes } from "./http/cases.ts";
import { itemCaseRoutes } from "./http/item-cases.ts";
import { exceptionRoutes } from "./http/exceptions.ts";
import { reconciliationStatementRoutes } from "./http/reconciliation-statement.ts";
import { lineRoutes } from "./http/lines.ts";
import { matchingRulesRoutes } from "./http/matching-rules.ts";
import { matchRoutes } from "./http/matches.ts";
import { ReconciliationGuards } from "./http/shared.ts";
import type { ReconciliationQueryRoutesDeps } from "./http/shared.ts";
import { statementRoutes } from "./http/statements.ts";

export { RECONCILIATION_QUERY_LIMITS } from "./http/shared.ts";
export type { MatchCaseSource, ReconciliationQueryRoutesDeps } from "./http/shared.ts";
export type { MatchingRulesSource } from "./http/matching-rules.ts";

const RESOURCES = [bankAccountRoutes, statementRoutes, lineRoutes, matchRoutes, caseRoutes, itemCaseRoutes, reconciliationStatementRoutes];

export function reconciliationQueryRoutes(deps: ReconciliationQueryRoutesDeps) {
  const guards = new ReconciliationGuards(deps);
  return async (app: FastifyInstance): Promise<void> => {
    const perDeps = [matchingRulesRoutes(deps.matchingRules), exceptionRoutes({ exceptions: deps.exceptions, matchingRules: deps.matchingRules })];
    for (const register of [...RESOURCES, ...perDeps]) register({ app, reader: deps.reader, matches: deps.matches, cases: deps.cases, guards });
    await Promise.resolve();
  };
}
