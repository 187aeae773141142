// The reconciliation context: bank and PSP accounts, statements in every
// format, their lines (command-side/src/reconciliation), the read models of
// them (projections/src/reconciliation) and their queries
// (query-side/src/reconciliation).
import { PostgresMatchItemReader, readMatchingRules, reconciliationCommandRoutes } from "@trueup/command-side";
import { ledgerProjection, matchingProjection, reconciliationProjection } from "@trueup/projections";
import { MatchReader, ReconciliationReader, reconciliationQueryRoutes } from "@trueup/query-side";
import type { BoundedContextModule } from "./modules.ts";

export const reconciliationModule: BoundedContextModule = {
  name: "reconciliation",
  projections: [reconciliationProjection, matchingProjection],
  // Imports decide from the log (the bank account's stream and the ledger's). A manual match reads its
  // items' amounts (facts that never change) from the read models; the live matches come from the log.
  commandReads: [reconciliationProjection, ledgerProjection],
  commandRoutes: ({ pool, eventStore, idempotency, atomic, inFlight, imports, assertReadModelsReady }) =>
    reconciliationCommandRoutes({
      eventStore, idempotency, atomic, inFlight, imports, assertReadModelsReady,
      matchItems: new PostgresMatchItemReader(pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName }),
    }),
  queryRoutes: ({ pool, eventStore, waitForPosition }) => {
    const schemas = { reconciliation: reconciliationProjection.schemaName, matching: matchingProjection.schemaName, ledger: ledgerProjection.schemaName };
    const projections = { reconciliation: reconciliationProjection, matching: matchingProjection };
    return reconciliationQueryRoutes({
      reader: new ReconciliationReader(pool, schemas.reconciliation, schemas.matching),
      matches: new MatchReader(pool, schemas),
      matchingRules: (bankAccountId) => readMatchingRules(eventStore, bankAccountId),
      waitForPosition: (readModel, position, timeoutMs) => waitForPosition(projections[readModel], position, timeoutMs),
    });
  },
};
