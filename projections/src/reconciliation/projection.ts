// The reconciliation read model: bank accounts (registered and listed), the
// statements imported to them with their checks, and their lines, the
// external items the matcher reads. Reads the bank account, ledger listing
// and statement categories; CSV profiles are read from their own streams.
import { RECONCILIATION_CATEGORIES } from "@trueup/contracts";
import { ConflictingDuplicateError } from "../errors.ts";
import type { PostgresProjection } from "../postgres/definition.ts";
import { planReconciliationBatch } from "./plan.ts";
import type { ReconciliationBatchPlan } from "./plan.ts";
import { RECONCILIATION_SCHEMA_NAME, reconciliationDdl } from "./schema.ts";
import { writeReconciliationBatch } from "./write.ts";

/**
 * Events per batch: a StatementLinesRecorded carries up to 500 lines (each up
 * to 16 KiB of raw source), so the default 1000 events could hold half a
 * million lines in memory, twice over with the worker reading ahead. 16
 * events are at most 8,000 lines, a few MB in the usual case.
 */
export const RECONCILIATION_BATCH_EVENTS_MAX = 16;

export const reconciliationProjection: PostgresProjection<ReconciliationBatchPlan> = {
  name: "reconciliation",
  version: 2,
  kind: "postgres",
  schemaName: RECONCILIATION_SCHEMA_NAME,
  batchSizeMax: RECONCILIATION_BATCH_EVENTS_MAX,
  filter: { categories: [RECONCILIATION_CATEGORIES.bankAccount, RECONCILIATION_CATEGORIES.ledgerBankAccounts, RECONCILIATION_CATEGORIES.statement] },
  ddl: reconciliationDdl,
  plan: planReconciliationBatch,
  apply: writeReconciliationBatch,
  // Skipping an event the command side accepted would hide a bank account or
  // a statement, or leave a statement without some of its lines (the matcher
  // would then miss them), so like the ledger it stops on it (loudly: /ready,
  // /metrics) until a fix and a retry. A conflicting duplicate is parked: the
  // first copy is what everyone has read.
  onUnprojectable: (failure) => (failure instanceof ConflictingDuplicateError ? "park" : "stop"),
};
