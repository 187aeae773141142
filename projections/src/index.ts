// Projections: definitions and the worker that runs them into PostgreSQL.
export { ProjectionEventError, ProjectionFailedError, parseEach } from "./errors.ts";
export { checkProjection, qualified } from "./postgres/definition.ts";
export type { PostgresProjection } from "./postgres/definition.ts";
export { BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX } from "./postgres/batch.ts";
export { readCheckpoint } from "./postgres/checkpoint.ts";
export type { Checkpoint } from "./postgres/checkpoint.ts";
export { LAG_COUNT_MAX_DEFAULT, WAIT_POLL_INTERVAL_MS, WAIT_TIMEOUT_MAX_MS, projectionLag, waitForCheckpoint } from "./postgres/lag.ts";
export type { LagOptions, ProjectionLag } from "./postgres/lag.ts";
export { RebuildInProgressError, openProjectionSchema, rebuildProjection } from "./postgres/rebuild.ts";
export type { RebuildOptions, RebuildResult } from "./postgres/rebuild.ts";
export { RETRY_DEFAULT, RetriesExhaustedError, isTransient } from "./postgres/retry.ts";
export type { RetryPolicy } from "./postgres/retry.ts";
export { ProjectionWorker } from "./postgres/worker.ts";
export type { ProjectionWorkerOptions } from "./postgres/worker.ts";
export { ledgerProjection } from "./ledger/projection.ts";
export { LEDGER_SCHEMA_NAME, ledgerDdl } from "./ledger/schema.ts";
export { assertBalanced, planLedgerBatch } from "./ledger/plan.ts";
export type { LedgerBatchPlan } from "./ledger/plan.ts";
