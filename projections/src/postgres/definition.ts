// The PostgreSQL sink: the DDL of the projection's tables inside a schema it
// is given and a set-based `apply` of a plan. The worker owns everything else
// (checkpoint, transactions, retries, rebuild), so a definition never sees a
// checkpoint. Planning is separate so it runs outside the transaction, while
// the batch before is still being written. The sink's members sit on the
// projection itself, so a copy into another schema is `{ ...p, schemaName }`.
import pg from "pg";
import type { EventStore } from "@trueup/event-store";
import type { ProjectionDefinition } from "../definition.ts";

/**
 * What `apply` may read of the log besides its batch: whole streams. A
 * projection whose events name others (a StatementImported names its line
 * batches) reads them there, once, instead of staging them as they pass.
 */
export type StreamReader = Pick<EventStore, "readStream">;

export interface PostgresSink<Plan = unknown> {
  readonly kind: "postgres";
  /** The live schema readers query, e.g. "rm_ledger". Rebuilds use `<schemaName>__build_<n>`. */
  readonly schemaName: string;
  /** CREATE statements for the projection's tables inside `schemaName` (which exists and is empty). */
  ddl(schemaName: string): readonly string[];
  /** Writes a plan inside the worker's transaction, the checkpoint moving with it; `log` reads streams the plan names. */
  apply(tx: pg.PoolClient, plan: Plan, schemaName: string, log: StreamReader): Promise<void>;
}

/** A projection into PostgreSQL tables: the definition plus its PostgreSQL sink. */
export interface PostgresProjection<Plan = unknown> extends ProjectionDefinition<Plan>, PostgresSink<Plan> {}

/** Schema names we create: lower-case identifiers, leaving room for the `__build_<n>` suffix. */
const SCHEMA_NAME_PATTERN = /^[a-z][a-z0-9_]{0,29}$/;

export function checkProjection(projection: PostgresProjection): void {
  if (!SCHEMA_NAME_PATTERN.test(projection.schemaName) || projection.schemaName.includes("__")) {
    throw new RangeError(`projection schema name ${JSON.stringify(projection.schemaName)} must match ${String(SCHEMA_NAME_PATTERN)} without "__"`);
  }
  if (projection.name.length === 0 || projection.name.length > 100) throw new RangeError("projection name must be 1-100 characters");
  if (!Number.isInteger(projection.version) || projection.version < 1) throw new RangeError("projection version must be a positive integer");
}

/** `"schema"."table"`, quoted: schema names are checked, but quoting costs nothing. */
export function qualified(schemaName: string, table: string): string {
  return `${pg.escapeIdentifier(schemaName)}.${pg.escapeIdentifier(table)}`;
}
