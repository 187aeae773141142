export { LedgerReader, READER_LIMITS } from "./ledger/reader.ts";
export type { AccountRow, BalanceRow, EntryRow, ReaderHooks, ReaderLimits, ReaderOptions, StatementKey, StatementLineKey, StatementLineRow, TrialBalanceSource } from "./ledger/reader.ts";
export { ledgerQueryRoutes, trialBalanceJson, trialBalanceResponse, QUERY_LIMITS } from "./ledger/routes.ts";
export type { LedgerQueryRoutesDeps } from "./ledger/routes.ts";
export { hledgerAccount, hledgerEntry, hledgerHeader } from "./ledger/hledger.ts";
export { RECONCILIATION_QUERY_LIMITS, reconciliationQueryRoutes } from "./reconciliation/routes.ts";
export { ReconciliationReader } from "./reconciliation/reader.ts";
export type { AccountLineKey, BankAccountRow as ReconciliationBankAccountRow, LineRow as ReconciliationLineRow, StatementRow as ReconciliationStatementRow } from "./reconciliation/reader.ts";
export type { ReconciliationQueryRoutesDeps } from "./reconciliation/routes.ts";
