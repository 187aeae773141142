export { LedgerReader, READER_LIMITS } from "./ledger/reader.ts";
export type { AccountRow, BalanceRow, EntryRow, ReaderHooks, ReaderLimits, ReaderOptions, StatementKey, StatementLineKey, StatementLineRow, TrialBalanceSource } from "./ledger/reader.ts";
export { ledgerQueryRoutes, trialBalanceJson, trialBalanceResponse, QUERY_LIMITS } from "./ledger/routes.ts";
export type { LedgerQueryRoutesDeps } from "./ledger/routes.ts";
export { hledgerAccount, hledgerEntry, hledgerHeader } from "./ledger/hledger.ts";
export { reconciliationQueryRoutes } from "./reconciliation/routes.ts";
export type { ReconciliationQueryRoutesDeps } from "./reconciliation/routes.ts";
