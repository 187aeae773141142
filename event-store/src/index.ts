export * from "./port.ts";
export { HORIZON_HELD_WARN_MS_DEFAULT, PositionsAheadOfServerError, PostgresEventStore, describeHorizonHeld } from "./postgres/adapter.ts";
export type { PostgresEventStoreOptions } from "./postgres/adapter.ts";
export { isUnavailable as isPostgresUnavailable, mapPgError } from "./postgres/errors.ts";
export { migrate } from "./postgres/schema.ts";
export type { Migration } from "./postgres/schema.ts";
export { EventStoreDbEventStore } from "./eventstoredb/adapter.ts";
