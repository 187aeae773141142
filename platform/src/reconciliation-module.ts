// The reconciliation context: bank and PSP accounts, statements in every
// format, their lines (command-side/src/reconciliation), the read models of
// them (projections/src/reconciliation) and their queries
// (query-side/src/reconciliation).
import { LedgerCommandService, MatchCommandService, PostgresMatchItemReader, WriteOffProcess, readMatchingRules, reconciliationCommandRoutes } from "@trueup/command-side";
import { RECONCILIATION_CATEGORIES } from "@trueup/contracts";
import { ledgerProjection, matchingProjection, processManagerProjection, reconciliationProjection } from "@trueup/projections";
import type { PostgresProjection } from "@trueup/projections";
import type { RecordedEvent } from "@trueup/event-store";
import { MatchReader, ReconciliationReader, reconciliationQueryRoutes } from "@trueup/query-side";
import type { BoundedContextModule } from "./modules.ts";

/** The write-off process manager: reacts to WriteOffRequested in the recon streams, records what it did in pm_write_offs. */
export function writeOffProcessManager(process: Pick<WriteOffProcess, "handle">): PostgresProjection<readonly RecordedEvent[]> {
  return processManagerProjection({
    name: "write-offs",
    schemaName: "pm_write_offs",
    filter: { categories: [RECONCILIATION_CATEGORIES.recon], eventTypes: ["WriteOffRequested"] },
    handle: async (event) => {
      const outcome = await process.handle(event);
      return outcome === undefined ? undefined : { ...outcome };
    },
  });
}

export const reconciliationModule: BoundedContextModule = {
  name: "reconciliation",
  projections: [reconciliationProjection, matchingProjection],
  // Imports decide from the log (the bank account's stream and the ledger's). A manual match reads its
  // items' amounts (facts that never change) from the read models; the live matches come from the log.
  commandReads: [reconciliationProjection, ledgerProjection],
  // A confirmed match's write-off becomes a journal entry through the ledger's own command path.
  processManagers: ({ eventStore, atomic }) => [
    writeOffProcessManager(new WriteOffProcess({ ledger: new LedgerCommandService(eventStore, atomic), matches: new MatchCommandService({ store: eventStore }) })),
  ],
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
