// The ledger read model: ledgers, accounts, current and per-day balances,
// journal entries with reversal links both ways, entry lines for statements
// with running balances, and periods. Reads the `ledger` and `period`
// categories; the `reversal` category is command-side bookkeeping.
import { LEDGER_CATEGORIES } from "@trueup/contracts";
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
  plan: (events) => prepareLedgerWrite(planLedgerBatch(events)),
  apply: writeLedgerBatch,
};
