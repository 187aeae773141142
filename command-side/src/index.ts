export { LedgerCommandService } from "./ledger/service.ts";
export type { CommandContext, CommandOutcome, EntryLocator } from "./ledger/service.ts";
export { ledgerCommandRoutes } from "./ledger/routes.ts";
export type { LedgerCommandRoutesDeps } from "./ledger/routes.ts";
export { IdempotencyStore, requestHash, canonicalJson } from "./idempotency.ts";
export type { AtomicAppender } from "./stream-writer.ts";
export * as ledgerDecider from "./ledger/decider.ts";
export { StreamWriter, WRITER_LIMITS } from "./stream-writer.ts";
export { InFlight } from "./in-flight.ts";
