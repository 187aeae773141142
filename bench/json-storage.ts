// What PostgreSQL spends storing and reading back large line batches, by
// column type and by how the data is sent: the measurement behind migration 3
// (event data as json, one parameter per event), and whether to store it
// uncompressed (not kept: see BENCHMARKS.md, sixth session). A comparison:
// `node --import tsx bench/json-storage.ts` (about 1 minute; prints only).
// 400 events of 500 camt lines each (about 280 MB of JSON), appended four
// per statement with one statement in flight, then read back in pages of
// two, on a fresh embedded PostgreSQL with the bench's durable settings.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startBenchPostgres } from "./lib/bench-postgres.ts";
import { camtLineBatches } from "./lib/camt-line-batches.ts";
import { serverCpuSeconds } from "./lib/cpu-usage.ts";

const APPENDS = 100;
const EVENTS_PER_APPEND = 4;
const LINES_PER_EVENT = 500;

/** Four real line batches: the stored form of 2,000 generated camt entries, as the import writes them. */
function lineBatches(folder: string): Promise<string[]> {
  return camtLineBatches(folder, { lines: EVENTS_PER_APPEND * LINES_PER_EVENT, statementId: "s", bankAccountId: "b" });
}

interface Variant {
  readonly table: string;
  readonly column: string;
  readonly insert: (batches: readonly string[], k: number) => [string, unknown[]];
}

const values = (table: string, cast: string) => (batches: readonly string[], k: number): [string, unknown[]] => [
  `INSERT INTO ${table} (k, data) VALUES ($5, $1${cast}), ($5, $2${cast}), ($5, $3${cast}), ($5, $4${cast})`,
  [...batches, k],
];

const VARIANTS: Record<string, Variant> = {
  "jsonb, one array parameter (es_append before migration 3)": {
    table: "t_jsonb", column: "jsonb",
    insert: (batches, k) => ["INSERT INTO t_jsonb (k, data) SELECT $2::int, e.value FROM jsonb_array_elements($1::jsonb) e", [`[${batches.join(",")}]`, k]],
  },
  "json, one array parameter": {
    table: "t_json_array", column: "json",
    insert: (batches, k) => ["INSERT INTO t_json_array (k, data) SELECT $2::int, e.value FROM json_array_elements($1::json) e", [`[${batches.join(",")}]`, k]],
  },
  "json, a parameter per event (es_append since migration 3)": { table: "t_json", column: "json", insert: values("t_json", "::json") },
  "text, a parameter per event": { table: "t_text", column: "text", insert: values("t_text", "") },
  "json, a parameter per event, uncompressed (STORAGE EXTERNAL)": { table: "t_json_external", column: "json", insert: values("t_json_external", "::json") },
};

const folder = await mkdtemp(path.join(tmpdir(), "trueup-json-storage-"));
const server = await startBenchPostgres({ database: "storage" });
const pool = new pg.Pool({ ...server.server.clientConfig, max: 4 });
try {
  const batches = await lineBatches(folder);
  const postmaster = server.serverPid();
  if (postmaster === undefined) throw new Error("no postmaster pid");
  for (const v of Object.values(VARIANTS)) await pool.query(`CREATE TABLE ${v.table} (id bigserial PRIMARY KEY, k int NOT NULL, data ${v.column} NOT NULL)`);
  await pool.query("ALTER TABLE t_json_external ALTER COLUMN data SET STORAGE EXTERNAL");
  console.log(`${APPENDS * EVENTS_PER_APPEND} events, ${(APPENDS * batches.reduce((n, b) => n + b.length, 0) / 1e6).toFixed(0)} MB of JSON per variant and round`);
  for (let round = 0; round < 2; round++) {
    for (const [name, v] of Object.entries(VARIANTS)) {
      const writeCpu = serverCpuSeconds(postmaster);
      const writeStart = performance.now();
      let inflight: Promise<unknown> | undefined;
      for (let i = 0; i < APPENDS; i++) {
        const [sql, params] = v.insert(batches, round * APPENDS + i);
        await inflight;
        inflight = pool.query(sql, params);
      }
      await inflight;
      const wrote = { ms: performance.now() - writeStart, cpu: serverCpuSeconds(postmaster) - writeCpu };
      const readCpu = serverCpuSeconds(postmaster);
      const readStart = performance.now();
      let lines = 0;
      for (let k = round * APPENDS; k < (round + 1) * APPENDS; k += 2) {
        const { rows } = await pool.query<{ data: unknown }>(`SELECT data FROM ${v.table} WHERE k >= $1 AND k < $2 ORDER BY id`, [k, k + 2]);
        for (const row of rows) lines += ((typeof row.data === "string" ? JSON.parse(row.data) : row.data) as { lines: unknown[] }).lines.length;
      }
      const read = { ms: performance.now() - readStart, cpu: serverCpuSeconds(postmaster) - readCpu };
      if (lines !== APPENDS * EVENTS_PER_APPEND * LINES_PER_EVENT) throw new Error(`${name}: read back ${lines} lines`);
      const size = await pool.query<{ mb: string }>(`SELECT round(pg_total_relation_size('${v.table}') / 1e6) AS mb`);
      console.log(`round ${round + 1} ${name}: ${size.rows[0]?.mb ?? "?"} MB on disk after it; append ${wrote.ms.toFixed(0)} ms, server CPU ${wrote.cpu.toFixed(2)} s; read back ${read.ms.toFixed(0)} ms, server CPU ${read.cpu.toFixed(2)} s`);
    }
  }
} finally {
  await pool.end();
  await server.dispose();
  await rm(folder, { recursive: true, force: true });
}
