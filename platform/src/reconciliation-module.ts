// The reconciliation context: bank and PSP accounts, statements in every
// format, their lines (command-side/src/reconciliation), the read models of
// them (projections/src/reconciliation) and their queries
// (query-side/src/reconciliation).
import { readMatchingRules, reconciliationCommandRoutes } from "@trueup/command-side";
import { reconciliationProjection } from "@trueup/projections";
import { ReconciliationReader, reconciliationQueryRoutes } from "@trueup/query-side";
import type { BoundedContextModule } from "./modules.ts";

export const reconciliationModule: BoundedContextModule = {
  name: "reconciliation",
  projections: [reconciliationProjection],
  // Imports decide from the log (the bank account's stream and the ledger's).
  commandReads: [],
  commandRoutes: ({ eventStore, idempotency, atomic, inFlight, imports }) => reconciliationCommandRoutes({ eventStore, idempotency, atomic, inFlight, imports }),
  queryRoutes: ({ pool, eventStore, waitForPosition }) => {
    const reader = new ReconciliationReader(pool, reconciliationProjection.schemaName);
    return reconciliationQueryRoutes({
      reader,
      matchingRules: (bankAccountId) => readMatchingRules(eventStore, bankAccountId),
      waitForPosition: (position, timeoutMs) => waitForPosition(reconciliationProjection, position, timeoutMs),
    });
  },
};
