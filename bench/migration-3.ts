// How long migration 3 (event data from jsonb to json) takes on an existing
// log: `node --import tsx bench/migration-3.ts [events]` (default 1,000,000
// ledger-sized events; about a minute). A fresh embedded PostgreSQL gets
// migrations 1 and 2 only, a log written through their es_append, then
// migration 3, timed; prints only.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { startBenchPostgres } from "./lib/bench-postgres.ts";
import { MIGRATIONS, migrate } from "../event-store/src/postgres/schema.ts";

const EVENTS = Number(process.argv[2] ?? 1_000_000);
const PER_APPEND = 1000;
if (!Number.isInteger(EVENTS) || EVENTS < PER_APPEND || EVENTS > 10_000_000) throw new RangeError(`events: a whole number from ${PER_APPEND} to 10,000,000, got ${process.argv[2]}`);

/** A JournalEntryPosted of the ledger's usual size: two lines, a description, actor and correlation. */
function posting(n: number): object {
  return {
    id: randomUUID(),
    type: "JournalEntryPosted",
    v: 1,
    data: { ledgerId: "l1", entryId: randomUUID(), description: `Invoice payment ${n}`, lines: [{ accountCode: "1000", amountMinor: String(n), side: "debit", currency: "EUR" }, { accountCode: "4000", amountMinor: String(n), side: "credit", currency: "EUR" }] },
    metadata: { actor: "bench", correlationId: randomUUID() },
  };
}

const server = await startBenchPostgres({ database: "migration" });
const pool = new pg.Pool({ ...server.server.clientConfig, max: 2 });
const size = async (): Promise<string> => (await pool.query<{ s: string }>("SELECT pg_size_pretty(pg_total_relation_size('es_events')) AS s")).rows[0]?.s ?? "?";
try {
  await migrate(pool, MIGRATIONS.slice(0, 2), "es_migrations");
  for (let b = 0; b < EVENTS / PER_APPEND; b++) {
    const events = Array.from({ length: PER_APPEND }, (_, i) => posting(b * PER_APPEND + i));
    await pool.query("SELECT * FROM es_append($1, 'ledger', 'any', $2::jsonb)", [`ledger-${b % 50}`, JSON.stringify(events)]);
  }
  console.log(`log of ${EVENTS} events written by migration 2's es_append: es_events ${await size()}`);
  const started = performance.now();
  await migrate(pool, MIGRATIONS, "es_migrations");
  console.log(`migration 3: ${((performance.now() - started) / 1000).toFixed(1)} s; es_events ${await size()}`);
} finally {
  await pool.end();
  await server.dispose();
}
