// The reconciliation context: bank and PSP accounts, statements in every
// format, their lines (command-side/src/reconciliation), the read models of
// them (projections/src/reconciliation) and their queries
// (query-side/src/reconciliation).
import { PostgresMatchItemReader, readMatchingRules, reconciliationCommandRoutes } from "@trueup/command-side";
import { ledgerProjection, reconciliationProjection } from "@trueup/projections";
import { ReconciliationReader, reconciliationQueryRoutes } from "@trueup/query-side";
import type { BoundedContextModule } from "./modules.ts";

export const reconciliationModule: BoundedContextModule = {
  name: "reconciliation",
  projections: [reconciliationProjection],
  // Imports decide from the log (the bank account's stream and the ledger's). A manual match reads its
  // items' amounts (facts that never change) from the read models; the live matches come from the log.
  commandReads: [reconciliationProjection, ledgerProjection],
  commandRoutes: ({ pool, eventStore, idempotency, atomic, inFlight, imports, assertReadModelsReady }) =>
    reconciliationCommandRoutes({
      eventStore, idempotency, atomic, inFlight, imports, assertReadModelsReady,
      matchItems: new PostgresMatchItemReader(pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName }),
    }),
  queryRoutes: ({ pool, eventStore, waitForPosition }) => {
    const reader = new ReconciliationReader(pool, reconciliationProjection.schemaName);
    return reconciliationQueryRoutes({
      reader,
      matchingRules: (bankAccountId) => readMatchingRules(eventStore, bankAccountId),
      waitForPosition: (position, timeoutMs) => waitForPosition(reconciliationProjection, position, timeoutMs),
    });
  },
};
