// The reconciliation context: bank and PSP accounts, statements in every
// format, their lines (command-side/src/reconciliation), the read models of
// them (projections/src/reconciliation, matching, and the case files in
// projections/src/cases) and their queries (query-side/src/reconciliation).
import assert from "node:assert/strict";
import { ContinuousMatching, LedgerCommandService, MatchCommandService, PostgresMatchItemReader, WriteOffProcess, readMatchingRules, reconciliationCommandRoutes } from "@trueup/command-side";
import { RECONCILIATION_CATEGORIES } from "@trueup/contracts";
import { CASES_COLLECTION, ITEM_CASES_COLLECTION, casesProjection, continuousMatchingProjection, itemCaseId, itemCasesProjection, ledgerProjection, matchingProjection, processManagerProjection, reconciliationProjection } from "@trueup/projections";
import type { PostgresProjection } from "@trueup/projections";
import type { EventStore, RecordedEvent } from "@trueup/event-store";
import type pg from "pg";
import { ExceptionReader, MatchReader, ReconciliationReader, reconciliationQueryRoutes } from "@trueup/query-side";
import { readDocuments } from "./document-read-models.ts";
import type { BoundedContextModule } from "./modules.ts";

/** The write-off process manager: reacts to WriteOffRequested in the recon streams, records what it did in pm_write_offs. */
export function writeOffProcessManager(process: Pick<WriteOffProcess, "handle">): PostgresProjection<readonly RecordedEvent[]> {
  return processManagerProjection({
    name: "write-offs",
    schemaName: "pm_write_offs",
    filter: { categories: [RECONCILIATION_CATEGORIES.recon], eventTypes: ["WriteOffRequested", "WriteOffReversalRequested"] },
    handle: async (event) => {
      const outcome = await process.handle(event);
      return outcome === undefined ? undefined : { ...outcome };
    },
  });
}

/** Continuous reconciliation: runs over the read models, once they have applied the batch that triggered them. */
function continuousMatchingProcessManager(eventStore: EventStore, pool: pg.Pool): PostgresProjection<readonly RecordedEvent[]> {
  const items = new PostgresMatchItemReader(pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName });
  const matching = new ContinuousMatching({ store: eventStore, items, service: new MatchCommandService({ store: eventStore }) });
  return continuousMatchingProjection({
    enabled: (bankAccountId) => matching.enabled(bankAccountId),
    readModelsAt: async (position) => {
      const applied = await items.appliedThrough();
      return applied !== undefined && applied >= position;
    },
    run: async (trigger) => ({ ...(await matching.run(trigger)) }),
  });
}

export const reconciliationModule: BoundedContextModule = {
  name: "reconciliation",
  projections: [reconciliationProjection, matchingProjection, casesProjection, itemCasesProjection],
  // Imports decide from the log (the bank account's stream and the ledger's). A manual match reads its
  // items' amounts (facts that never change) from the read models; the live matches come from the log.
  commandReads: [reconciliationProjection, ledgerProjection],
  // A confirmed match's write-off becomes a journal entry through the ledger's own command path; a new
  // statement or posting starts a run over what it may match (continuous reconciliation).
  processManagers: ({ eventStore, atomic, pool, continuousMatching }) => [
    writeOffProcessManager(new WriteOffProcess({ ledger: new LedgerCommandService(eventStore, atomic), matches: new MatchCommandService({ store: eventStore }) })),
    ...(continuousMatching ? [continuousMatchingProcessManager(eventStore, pool)] : []),
  ],
  commandRoutes: ({ pool, eventStore, idempotency, atomic, inFlight, imports, assertReadModelsReady }) =>
    reconciliationCommandRoutes({
      eventStore, idempotency, atomic, inFlight, imports, assertReadModelsReady,
      matchItems: new PostgresMatchItemReader(pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName }),
    }),
  queryRoutes: ({ pool, eventStore, waitForPosition, documents }) => {
    const schemas = { reconciliation: reconciliationProjection.schemaName, matching: matchingProjection.schemaName, ledger: ledgerProjection.schemaName };
    const projections = { reconciliation: reconciliationProjection, matching: matchingProjection, cases: casesProjection, itemCases: itemCasesProjection };
    // The composition root opens the document store whenever a module registers a document projection (this one does).
    assert.ok(documents !== undefined, "the reconciliation queries need the document store of the cases projection");
    return reconciliationQueryRoutes({
      reader: new ReconciliationReader(pool, schemas.reconciliation, schemas.matching),
      matches: new MatchReader(pool, schemas),
      exceptions: new ExceptionReader(pool, schemas),
      matchingRules: (bankAccountId) => readMatchingRules(eventStore, bankAccountId),
      cases: {
        matchCase: async (matchId) => (await readDocuments(() => documents.get(CASES_COLLECTION, matchId)))?.body,
        itemCase: async (bankAccountId, side, itemId) => (await readDocuments(() => documents.get(ITEM_CASES_COLLECTION, itemCaseId(bankAccountId, side, itemId))))?.body,
      },
      waitForPosition: (readModel, position, timeoutMs) => waitForPosition(projections[readModel], position, timeoutMs),
    });
  },
};
