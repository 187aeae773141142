// What PostgreSQL spends storing and reading back large line batches, by
// column type and by how the data is sent: the measurement behind migration 3
// (event data as json, one parameter per event). Not a target, a comparison:
// `node --import tsx bench/json-storage.ts` (about 1 minute; prints only).
// 400 events of 500 camt lines each (about 280 MB of JSON), appended four
// per statement with one statement in flight, then read back in pages of
// two, on a fresh embedded PostgreSQL with the bench's durable settings.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startBenchPostgres } from "./lib/bench-postgres.ts";
import { writeCamt053 } from "./lib/statement-generators.ts";
import { importerFor } from "../command-side/src/reconciliation/importers/index.ts";
import { fileText, scanFile } from "../command-side/src/reconciliation/import/scan.ts";
import { chooseEncoding } from "../command-side/src/reconciliation/import/decode.ts";

const APPENDS = 100;
const EVENTS_PER_APPEND = 4;
const LINES_PER_EVENT = 500;

/** Four real line batches: the stored form of 2,000 generated camt entries, as the import writes them. */
async function lineBatches(folder: string): Promise<string[]> {
  const file = await writeCamt053({ path: path.join(folder, "c.xml"), lines: EVENTS_PER_APPEND * LINES_PER_EVENT, seed: 9 });
  const importer = importerFor("camt.053");
  if (importer === undefined) throw new Error("no camt.053 importer");
  const encoding = chooseEncoding(Buffer.from("<?xml"), { requested: undefined, profile: undefined, wholeFile: false });
  const scan = await scanFile(importer, fileText(file.path, encoding), { limits: { linesMax: 1_000_000, lineLengthMax: 16_384 }, csvProfile: undefined, format: "camt.053", spoolPath: path.join(folder, "c.lines") });
  const rows: string[] = [];
  for await (const row of scan.lines.rowsInOrder()) rows.push(row.toString("utf8"));
  await scan.lines.remove();
  return Array.from({ length: EVENTS_PER_APPEND }, (_, b) => `{"statementId":"s","bankAccountId":"b","batchIndex":${b},"lines":[${rows.slice(b * LINES_PER_EVENT, (b + 1) * LINES_PER_EVENT).join(",")}]}`);
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
};

/** CPU seconds of the server and all its backends (utime + stime from /proc). */
function serverCpu(postmaster: number): number {
  const children = execFileSync("pgrep", ["-P", String(postmaster)]).toString().trim().split("\n");
  let ticks = 0;
  for (const pid of [String(postmaster), ...children]) {
    try {
      const stat = execFileSync("cat", [`/proc/${pid}/stat`]).toString();
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A backend that ended meanwhile.
    }
  }
  return ticks / 100;
}

const folder = await mkdtemp(path.join(tmpdir(), "trueup-json-storage-"));
const server = await startBenchPostgres({ database: "storage" });
const pool = new pg.Pool({ ...server.server.clientConfig, max: 4 });
try {
  const batches = await lineBatches(folder);
  const postmaster = server.serverPid();
  if (postmaster === undefined) throw new Error("no postmaster pid");
  for (const v of Object.values(VARIANTS)) await pool.query(`CREATE TABLE ${v.table} (id bigserial PRIMARY KEY, k int NOT NULL, data ${v.column} NOT NULL)`);
  console.log(`${APPENDS * EVENTS_PER_APPEND} events, ${(APPENDS * batches.reduce((n, b) => n + b.length, 0) / 1e6).toFixed(0)} MB of JSON per variant and round`);
  for (let round = 0; round < 2; round++) {
    for (const [name, v] of Object.entries(VARIANTS)) {
      const writeCpu = serverCpu(postmaster);
      const writeStart = performance.now();
      let inflight: Promise<unknown> | undefined;
      for (let i = 0; i < APPENDS; i++) {
        const [sql, params] = v.insert(batches, round * APPENDS + i);
        await inflight;
        inflight = pool.query(sql, params);
      }
      await inflight;
      const wrote = { ms: performance.now() - writeStart, cpu: serverCpu(postmaster) - writeCpu };
      const readCpu = serverCpu(postmaster);
      const readStart = performance.now();
      let lines = 0;
      for (let k = round * APPENDS; k < (round + 1) * APPENDS; k += 2) {
        const { rows } = await pool.query<{ data: unknown }>(`SELECT data FROM ${v.table} WHERE k >= $1 AND k < $2 ORDER BY id`, [k, k + 2]);
        for (const row of rows) lines += ((typeof row.data === "string" ? JSON.parse(row.data) : row.data) as { lines: unknown[] }).lines.length;
      }
      const read = { ms: performance.now() - readStart, cpu: serverCpu(postmaster) - readCpu };
      if (lines !== APPENDS * EVENTS_PER_APPEND * LINES_PER_EVENT) throw new Error(`${name}: read back ${lines} lines`);
      console.log(`round ${round + 1} ${name}: append ${wrote.ms.toFixed(0)} ms, server CPU ${wrote.cpu.toFixed(2)} s; read back ${read.ms.toFixed(0)} ms, server CPU ${read.cpu.toFixed(2)} s`);
    }
  }
} finally {
  await pool.end();
  await server.dispose();
  await rm(folder, { recursive: true, force: true });
}
