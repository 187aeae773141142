// The ledger read model: ledgers, accounts, current and per-day balances,
// journal entries with reversal links both ways, entry lines for statements
// with running balances, and periods. Reads the `ledger` and `period`
// categories; the `reversal` category is command-side bookkeeping.
import { LEDGER_CATEGORIES } from "@trueup/contracts";
import { ConflictingDuplicateError } from "../errors.ts";
import type { PostgresProjection } from "../postgres/definition.ts";
import { planLedgerBatch } from "./plan.ts";
import { LEDGER_SCHEMA_NAME, ledgerDdl } from "./schema.ts";
import { prepareLedgerWrite, writeLedgerBatch } from "./write.ts";
import type { LedgerWrite } from "./write.ts";

export const ledgerProjection: PostgresProjection<LedgerWrite> = {
  name: "ledger",
  version: 3,
  kind: "postgres",
  schemaName: LEDGER_SCHEMA_NAME,
  filter: { categories: [LEDGER_CATEGORIES.ledger, LEDGER_CATEGORIES.period] },
  ddl: ledgerDdl,
  plan: (events) => prepareLedgerWrite(planLedgerBatch(events), events),
  apply: writeLedgerBatch,
  // Skipping an event the command side accepted would leave balances and trial
  // balances silently wrong, so the ledger stops on it (loudly: /ready, /metrics)
  // and waits for a fix and a retry. The one exception is a second copy of an
  // entry already projected with other content: skipping it keeps the first
  // copy, which is the entry everyone has read so far.
  onUnprojectable: (failure) => (failure instanceof ConflictingDuplicateError ? "park" : "stop"),
};
