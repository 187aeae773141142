// The ledger read model: ledgers, accounts, current and per-day balances,
// journal entries with reversal links both ways, entry lines for statements
// with running balances, and periods. Reads the `ledger` and `period`
// categories; the `reversal` category is command-side bookkeeping.
import { LEDGER_CATEGORIES } from "@trueup/contracts";
import type { PostgresProjection } from "../postgres/definition.ts";
import { planLedgerBatch } from "./plan.ts";
import { LEDGER_SCHEMA_NAME, ledgerDdl } from "./schema.ts";
import { writeLedgerBatch } from "./write.ts";

export const ledgerProjection: PostgresProjection = {
  name: "ledger",
  version: 2,
  schemaName: LEDGER_SCHEMA_NAME,
  filter: { categories: [LEDGER_CATEGORIES.ledger, LEDGER_CATEGORIES.period] },
  ddl: ledgerDdl,
  apply: async (tx, events, schemaName) => {
    await writeLedgerBatch(tx, planLedgerBatch(events), schemaName);
  },
};
