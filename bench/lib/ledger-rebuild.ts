// Phase 2 of the ledger bench: a rebuild of the ledger projection from
// position zero, next to its limit measured in the same run: a plain COPY of
// the same rows into the same read-model tables. Interleaved in rounds
// (rebuild, COPY; then COPY, rebuild), with a CHECKPOINT before each turn so
// one turn's write-back never lands in the other's timing.
//
// The rows are the rebuilt read model's own: after the first rebuild every
// table of its schema is exported (untimed, in log order) to files; each COPY
// turn creates the same tables afresh (`LIKE … INCLUDING ALL`: the same
// columns, keys, indexes and checks) in a schema of its own, then COPYs every
// file in, one COPY per table, in one transaction. So the limit writes what
// the projection writes, with the same index maintenance, and none of the
// projection's work: reading the log, parsing, planning, batching.
import assert from "node:assert/strict";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import type { PostgresEventStore } from "@trueup/event-store";
import { ledgerProjection, rebuildProjection } from "@trueup/projections";
import { interleave } from "./interleave.ts";
import type { MachineLoad } from "./machine-load.ts";

/** Events per rebuild batch (one transaction each), as deployed. */
const REBUILD_BATCH_SIZE = 5_000;
/** Where the COPY limit's tables live (dropped and created again before each COPY turn). */
const LIMIT_SCHEMA = "limit_copy";
/** Columns that give a read-model table's log order, where it has them. */
const ORDER_COLUMNS = ["position", "line_no"] as const;

export interface RebuildTurn {
  /** Events replayed, or rows copied. */
  readonly count: number;
  readonly elapsedMs: number;
}

export interface RebuildResult {
  readonly rebuild: RebuildTurn;
  readonly copy: RebuildTurn;
  readonly rounds: number;
  /** Rows per table, as the projection wrote them and the COPY wrote them again. */
  readonly rowsByTable: ReadonlyMap<string, number>;
}

interface ExportedTable {
  readonly table: string;
  readonly file: string;
  readonly rows: number;
}

const sum = (turns: readonly RebuildTurn[]): RebuildTurn => ({
  count: turns.reduce((a, t) => a + t.count, 0),
  elapsedMs: turns.reduce((a, t) => a + t.elapsedMs, 0),
});

async function tablesOf(pool: pg.Pool, schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ table: string }>("SELECT tablename AS table FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", [schema]);
  return rows.map((r) => r.table);
}

async function orderBy(pool: pg.Pool, schema: string, table: string): Promise<string> {
  const { rows } = await pool.query<{ column: string }>(
    "SELECT column_name AS column FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
    [schema, table],
  );
  const present = new Set(rows.map((r) => r.column));
  const columns = ORDER_COLUMNS.filter((c) => present.has(c));
  return columns.length === 0 ? "" : ` ORDER BY ${columns.map((c) => pg.escapeIdentifier(c)).join(", ")}`;
}

/** Every table of the live read model, in log order, to one COPY text file each. */
async function exportReadModel(pool: pg.Pool, folder: string): Promise<ExportedTable[]> {
  const schema = ledgerProjection.schemaName;
  const exported: ExportedTable[] = [];
  for (const table of await tablesOf(pool, schema)) {
    const file = path.join(folder, `${table}.copy`);
    const client = await pool.connect();
    try {
      const source = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(table)}`;
      const out = client.query(copyTo(`COPY (SELECT * FROM ${source}${await orderBy(pool, schema, table)}) TO STDOUT`));
      await pipeline(out, createWriteStream(file));
      exported.push({ table, file, rows: out.rowCount });
    } finally {
      client.release();
    }
  }
  assert.ok(exported.length > 0, `no tables in ${schema} to export`);
  return exported;
}

/** Fresh, empty copies of the read model's tables (same columns, keys, indexes, checks), committed before timing. */
async function createLimitTables(pool: pg.Pool, tables: readonly ExportedTable[]): Promise<void> {
  const live = pg.escapeIdentifier(ledgerProjection.schemaName);
  const target = pg.escapeIdentifier(LIMIT_SCHEMA);
  const statements = [`DROP SCHEMA IF EXISTS ${target} CASCADE`, `CREATE SCHEMA ${target}`];
  for (const { table } of tables) statements.push(`CREATE TABLE ${target}.${pg.escapeIdentifier(table)} (LIKE ${live}.${pg.escapeIdentifier(table)} INCLUDING ALL)`);
  await pool.query(statements.join(";\n"));
}

async function copyTurn(pool: pg.Pool, tables: readonly ExportedTable[]): Promise<RebuildTurn> {
  const client = await pool.connect();
  try {
    const started = performance.now();
    await client.query("BEGIN");
    let rows = 0;
    for (const { table, file, rows: expected } of tables) {
      const into = client.query(copyFrom(`COPY ${pg.escapeIdentifier(LIMIT_SCHEMA)}.${pg.escapeIdentifier(table)} FROM STDIN`));
      await pipeline(createReadStream(file), into);
      assert.equal(into.rowCount, expected, `COPY into ${table} must write every exported row`);
      rows += expected;
    }
    await client.query("COMMIT");
    return { count: rows, elapsedMs: performance.now() - started };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** `events` is how many events the log holds (every one is replayed by each rebuild). */
export async function measureRebuild(options: {
  readonly pool: pg.Pool;
  readonly store: PostgresEventStore;
  readonly events: number;
  readonly rounds: number;
  readonly log: (message: string) => void;
  readonly load: MachineLoad;
}): Promise<RebuildResult> {
  const { pool, store, events, log } = options;
  const folder = await mkdtemp(path.join(tmpdir(), "trueup-bench-copy-"));
  let exported: ExportedTable[] | undefined;
  try {
    const rounds = await interleave(
      {
        rounds: options.rounds,
        log,
        load: options.load,
        describe: (t: RebuildTurn) => `${t.count} in ${(t.elapsedMs / 1000).toFixed(1)} s = ${Math.round((t.count * 1000) / t.elapsedMs)}/s`,
        // Each turn writes hundreds of MB: flushed before the next one, untimed.
        beforeTurn: async () => {
          await pool.query("CHECKPOINT");
        },
      },
      {
        rebuild: {
          label: `rebuild of ${events} events from zero (${REBUILD_BATCH_SIZE}/batch)`,
          run: async () => {
            const started = performance.now();
            const result = await rebuildProjection({ pool, eventStore: store, projection: ledgerProjection, batchSizeMax: REBUILD_BATCH_SIZE });
            assert.equal(result.checkpoint.eventsApplied, BigInt(events), "the rebuild must have applied every event of the log");
            return { count: events, elapsedMs: performance.now() - started };
          },
        },
        copy: {
          label: "limit: COPY of the same rows into the same tables",
          prepare: async () => {
            // The first COPY turn follows the first rebuild (the order rotates from rebuild first).
            exported ??= await exportReadModel(pool, folder);
            await createLimitTables(pool, exported);
          },
          run: async () => {
            assert.ok(exported !== undefined);
            return copyTurn(pool, exported);
          },
        },
      },
    );
    assert.ok(exported !== undefined);
    return { rebuild: sum(rounds.rebuild), copy: sum(rounds.copy), rounds: options.rounds, rowsByTable: new Map(exported.map((t) => [t.table, t.rows])) };
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(LIMIT_SCHEMA)} CASCADE`).catch(() => undefined);
    await rm(folder, { recursive: true, force: true });
  }
}
