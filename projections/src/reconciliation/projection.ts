// The reconciliation read model: bank accounts (registered and listed), the
// statements imported to them with their checks, and their lines, the
// external items the matcher reads. Reads the bank account and ledger
// listing categories; a statement's lines are read from its stream when its
// StatementImported is applied (write.ts), CSV profiles from their own streams.
import { RECONCILIATION_CATEGORIES } from "@trueup/contracts";
import { ConflictingDuplicateError } from "../errors.ts";
import type { PostgresProjection } from "../postgres/definition.ts";
import { planReconciliationBatch } from "./plan.ts";
import type { ReconciliationBatchPlan } from "./plan.ts";
import { RECONCILIATION_SCHEMA_NAME, reconciliationDdl } from "./schema.ts";
import { writeReconciliationBatch } from "./write.ts";

/**
 * Events per batch. The events read are small (line batches are read page by
 * page inside the apply), but every StatementImported in a batch copies all
 * of its lines in the batch's one transaction, which holds back what other
 * readers of the log see until it commits: 16 keeps that transaction short.
 */
export const RECONCILIATION_BATCH_EVENTS_MAX = 16;

export const reconciliationProjection: PostgresProjection<ReconciliationBatchPlan> = {
  name: "reconciliation",
  version: 4,
  kind: "postgres",
  schemaName: RECONCILIATION_SCHEMA_NAME,
  batchSizeMax: RECONCILIATION_BATCH_EVENTS_MAX,
  // Not the statement category: a statement's line batches are read from its stream when its StatementImported is applied.
  filter: { categories: [RECONCILIATION_CATEGORIES.bankAccount, RECONCILIATION_CATEGORIES.ledgerBankAccounts] },
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
