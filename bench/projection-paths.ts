// What writing a large statement's lines into the read model costs, by path
// and by table shape: the measurement behind the sixth session's notes in
// BENCHMARKS.md (issue #9). Not a target, a comparison:
// `node --import tsx bench/projection-paths.ts` (about 3 minutes; prints
// only). 200,000 generated camt lines as the import stores them (400 line
// batches of 500), on a fresh embedded PostgreSQL with default settings:
//   1. the projection's path (pg parses the event's json, Node checks the
//      lines and builds COPY text, COPY into statement_lines) against the
//      same rows made by PostgreSQL itself from the events (json_to_recordset):
//      is a projection in SQL cheaper? (It is not.)
//   2. one COPY of the same text into statement_lines as it is, and without
//      its raw column's content, its indexes, its jsonb types or its WAL:
//      what each part of the table costs PostgreSQL.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { RecordedEvent } from "@trueup/event-store";
import { startBenchPostgres } from "./lib/bench-postgres.ts";
import { camtLineBatches } from "./lib/camt-line-batches.ts";
import { serverCpuSeconds } from "./lib/cpu-usage.ts";
import { STATEMENT_LINE_COPY_COLUMNS, reconciliationDdl } from "../projections/src/reconciliation/schema.ts";
import { lineBatchOf } from "../projections/src/reconciliation/plan.ts";
import { copyInPieces } from "../projections/src/postgres/copy.ts";

const LINES = 200_000;
const EVENTS_PER_READ = 8;
const ROUNDS = 2;
const STATEMENT_ID = "3f0e8c1a-1111-4222-8333-444455556666";
const BANK_ACCOUNT_ID = "bench.account";
const LEDGER_ID = "bench.ledger";
/** Index of `raw` in STATEMENT_LINE_COPY_COLUMNS. */
const RAW_CELL = STATEMENT_LINE_COPY_COLUMNS.indexOf("raw");

const recorded = (k: number, data: unknown): RecordedEvent =>
  ({ eventId: "e", type: "StatementLinesRecorded", schemaVersion: 1, data, metadata: {}, streamName: `statement-${STATEMENT_ID}`, revision: BigInt(k), position: (1000 + k).toString(16).padStart(32, "0"), recordedAt: new Date() }) as unknown as RecordedEvent;

/** The rows as PostgreSQL would make them from the events: nested members as jsonb, the defaults the stored form leaves out put back. */
const RECORD = `l("lineId" text, "lineNumber" int, "amountMinor" numeric, side text, currency text, "bookingDate" date, "valueDate" date, reversal boolean,
  "bankReference" text, "endToEndId" text, "customerReference" text, "creditorReference" text, "remittanceInformation" text, description text,
  counterparty jsonb, "bankCodes" jsonb, "chargesMinor" numeric, batch jsonb, attributes jsonb, raw text, location jsonb)`;
const BANK_CODES = ["domain", "family", "subFamily", "proprietary", "proprietaryIssuer", "swift", "bai2", "ofx", "psp"].map((k) => `'${k}', l."bankCodes"->'${k}'`).join(", ");
const SQL_ROWS = `SELECT e.b, e.s, l."lineNumber", l."lineId", lpad(to_hex(1000 + e.k), 32, '0'),
   l."amountMinor", l.side, l.currency, l."bookingDate", l."valueDate", coalesce(l."bookingDate", l."valueDate", '-infinity'::date), coalesce(l.reversal, false),
   l."bankReference", l."endToEndId", l."customerReference", l."creditorReference", l."remittanceInformation", l.description,
   l.counterparty->>'name', l.counterparty->>'iban', l.counterparty->>'accountNumber', l.counterparty->>'bic', jsonb_build_object(${BANK_CODES}),
   l."chargesMinor", l.batch->>'id', (l.batch->>'index')::int, (l.batch->>'size')::int, (l.batch->>'amountMinor')::numeric, l.batch->>'side',
   coalesce(l.attributes, '{}'::jsonb), l.raw, l.location, $1::text
   FROM (SELECT data->>'bankAccountId' AS b, data->>'statementId' AS s, k, data->'lines' AS lines FROM ev OFFSET 0) e, json_to_recordset(e.lines) AS ${RECORD}`;

const folder = await mkdtemp(path.join(tmpdir(), "trueup-projection-paths-"));
const server = await startBenchPostgres({ database: "paths" });
const pool = new pg.Pool({ ...server.server.clientConfig, max: 4 });
try {
  const events = await camtLineBatches(folder, { lines: LINES, statementId: STATEMENT_ID, bankAccountId: BANK_ACCOUNT_ID });
  const postmaster = server.serverPid();
  if (postmaster === undefined) throw new Error("no postmaster pid");
  await pool.query("CREATE SCHEMA rm");
  for (const ddl of reconciliationDdl("rm")) await pool.query(ddl);
  await pool.query("CREATE TABLE ev (k int PRIMARY KEY, data json NOT NULL)");
  for (const [k, data] of events.entries()) await pool.query("INSERT INTO ev VALUES ($1, $2::json)", [k, data]);
  const columns = STATEMENT_LINE_COPY_COLUMNS.join(", ");

  const inTransaction = async (body: (tx: pg.PoolClient) => Promise<void>): Promise<void> => {
    const tx = await pool.connect();
    try {
      await tx.query("BEGIN");
      await body(tx);
      await tx.query("COMMIT");
    } finally {
      tx.release();
    }
  };
  const timed = async (name: string, table: string, body: () => Promise<void>): Promise<void> => {
    await pool.query("CHECKPOINT");
    const cpu = process.cpuUsage();
    const server0 = serverCpuSeconds(postmaster);
    const started = performance.now();
    await body();
    const ms = performance.now() - started;
    const node = process.cpuUsage(cpu);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    if (rows[0]?.n !== LINES) throw new Error(`${name}: ${rows[0]?.n} rows`);
    console.log(`${name}: ${ms.toFixed(0)} ms, Node CPU ${((node.user + node.system) / 1e6).toFixed(2)} s, PostgreSQL CPU ${(serverCpuSeconds(postmaster) - server0).toFixed(2)} s`);
  };

  // 1. Node's path against PostgreSQL's.
  async function* pieces(): AsyncGenerator<string> {
    for (let k = 0; k < events.length; k += EVENTS_PER_READ) {
      const { rows } = await pool.query<{ k: number; data: unknown }>("SELECT k, data FROM ev WHERE k >= $1 AND k < $2 ORDER BY k", [k, k + EVENTS_PER_READ]);
      for (const row of rows) yield lineBatchOf(recorded(row.k, row.data), LEDGER_ID).rows;
    }
  }
  for (let round = 1; round <= ROUNDS; round++) {
    await pool.query("TRUNCATE rm.statement_lines");
    await timed(`round ${round}, read, checked and COPYed by the projection's code`, "rm.statement_lines", () => inTransaction((tx) => copyInPieces(tx, "rm.statement_lines", STATEMENT_LINE_COPY_COLUMNS, pieces())));
    await pool.query("TRUNCATE rm.statement_lines");
    await timed(`round ${round}, made by PostgreSQL from the events (json_to_recordset)`, "rm.statement_lines", async () => {
      await pool.query(`INSERT INTO rm.statement_lines (${columns}) ${SQL_ROWS}`, [LEDGER_ID]);
    });
  }

  // 2. One COPY of the same text, by table shape.
  const texts = events.map((data, k) => lineBatchOf(recorded(k, JSON.parse(data)), LEDGER_ID).rows);
  console.log(`COPY text: ${(texts.reduce((n, t) => n + t.length, 0) / 1e6).toFixed(0)} M characters`);
  const withoutRaw = texts.map((text) => text.split("\n").map((row) => {
    if (row === "") return row;
    const cells = row.split("\t");
    cells[RAW_CELL] = "";
    return cells.join("\t");
  }).join("\n"));
  const ddl = reconciliationDdl("v");
  const table = ddl.find((d) => d.startsWith("CREATE TABLE") && d.includes("statement_lines"));
  const indexes = ddl.filter((d) => d.includes("INDEX statement_lines"));
  if (table === undefined) throw new Error("no statement_lines DDL");
  const shapes: Record<string, { ddl: string[]; texts: string[] }> = {
    "as it is": { ddl: [table, ...indexes], texts },
    "raw empty": { ddl: [table, ...indexes], texts: withoutRaw },
    "no secondary indexes": { ddl: [table], texts },
    "no index at all": { ddl: [table.replace(/,\s*PRIMARY KEY \([^)]*\)/, "")], texts },
    "jsonb columns as text": { ddl: [table.replaceAll("jsonb", "text"), ...indexes], texts },
    unlogged: { ddl: [table.replace("CREATE TABLE", "CREATE UNLOGGED TABLE"), ...indexes], texts },
  };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, shape] of Object.entries(shapes)) {
      await pool.query("DROP SCHEMA IF EXISTS v CASCADE");
      await pool.query("CREATE SCHEMA v");
      for (const statement of shape.ddl) await pool.query(statement);
      await timed(`round ${round}, one COPY, statement_lines ${name}`, "v.statement_lines", () => inTransaction((tx) => copyInPieces(tx, "v.statement_lines", STATEMENT_LINE_COPY_COLUMNS, shape.texts)));
    }
  }
} finally {
  await pool.end();
  await server.dispose();
  await rm(folder, { recursive: true, force: true });
}
