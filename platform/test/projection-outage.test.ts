// Proves that a database outage longer than any retry budget does not leave
// the platform silently stuck (issue #8, defect 3): while the projection
// worker cannot reach PostgreSQL, /ready answers 503 naming the projection and
// /metrics says the worker is down and retrying; once connections are allowed
// again the worker catches up by itself, /ready is 200 again, and a posting
// made after the outage is readable with its position. The worker's retry
// policy is short here (attemptsMax 3, delays up to 50 ms) so the outage
// outlasts its old budget many times over in about a second.
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import pg from "pg";
import type { Platform } from "./ledger-support.ts";
import { command, query, startPlatform } from "./ledger-support.ts";

const RETRY = { attemptsMax: 3, delayFirstMs: 5, delayMaxMs: 50 } as const;
/** Failures the worker must have retried during the outage: far beyond the policy's attemptsMax (the old give-up point). */
const FAILURES_SEEN_MIN = RETRY.attemptsMax * 5;
/** Safety bound on every wait below (each ends on its condition; this only stops a broken build from hanging). */
const WAIT_MAX_MS = 60_000;

let p: Platform;
let admin: pg.Client;
let role: string;

beforeEach(async () => {
  p = await startPlatform({ ownRole: true, poolMax: 5, projectionRetry: RETRY });
  admin = new pg.Client({ ...inject("postgres") });
  await admin.connect();
  role = String(p.db.config.user);
});
afterEach(async () => {
  await admin.query(`ALTER ROLE ${role} CONNECTION LIMIT -1`);
  await admin.end();
  await p.close();
});

/** Refuses the role's new connections and ends its current ones (53300 / 57P01: both mean "unavailable"). */
async function refuseConnections(): Promise<void> {
  await admin.query(`ALTER ROLE ${role} CONNECTION LIMIT 0`);
  for (let attempt = 0; attempt < 500; attempt++) {
    const alive = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role]);
    if (alive.rowCount === 0) return;
    await sleep(10);
  }
}

async function waitUntil(what: string, condition: () => Promise<boolean> | boolean): Promise<void> {
  const deadlineMs = Date.now() + WAIT_MAX_MS;
  while (!(await condition())) {
    if (Date.now() > deadlineMs) throw new Error(`not reached within ${WAIT_MAX_MS} ms: ${what}`);
    await sleep(20);
  }
}

function sleep(delayMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}

const accounts = [
  { code: "1000", name: "Cash", type: "asset", currency: "EUR" },
  { code: "4000", name: "Sales", type: "revenue" },
];
const posting = (description: string) => ({
  effectiveDate: "2026-07-01",
  description,
  lines: [{ account: "1000", side: "debit", amount: "2.50", currency: "EUR" }, { account: "4000", side: "credit", amount: "2.50", currency: "EUR" }],
});

describe("projection worker in a database outage", () => {
  it("is retried for as long as the outage lasts, /ready is 503 meanwhile, and it catches up by itself", async () => {
    const [worker] = p.composed.workers;
    if (worker === undefined) throw new Error("the platform runs no projection worker");
    expect((await command(p.app, "/ledgers", { ledgerId: "out", name: "Outage", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const account of accounts) expect((await command(p.app, "/ledgers/out/accounts", account)).statusCode).toBe(201);
    const before = await command(p.app, "/ledgers/out/journal-entries", posting("before"));
    expect(before.statusCode, before.body).toBe(201);
    expect((await query(p.app, "/ledgers/out/accounts/1000", before.json<{ position: string }>().position)).statusCode).toBe(200);
    expect((await p.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);

    await refuseConnections();
    await waitUntil("the worker retried past its old budget", () => worker.status.consecutiveFailures >= FAILURES_SEEN_MIN);
    expect(worker.status.state).toBe("retrying");
    const ready = await p.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json<{ reason: string }>().reason).toMatch(/projection ledger cannot work: \d+ failures in a row/);
    const metrics = await p.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('trueup_projection_up{projection="ledger"} 0');
    expect(metrics.body).toContain('trueup_projection_state{projection="ledger",state="retrying"} 1');
    expect(metrics.body).toContain('trueup_projection_read_model_reachable{projection="ledger"} 0');
    expect(metrics.body).toMatch(/trueup_projection_consecutive_failures\{projection="ledger"\} [1-9]\d*/);

    await admin.query(`ALTER ROLE ${role} CONNECTION LIMIT -1`);
    await waitUntil("the worker runs again", () => worker.status.state === "running");
    await waitUntil("/ready is 200 again", async () => (await p.app.inject({ method: "GET", url: "/ready" })).statusCode === 200);
    const after = await command(p.app, "/ledgers/out/journal-entries", posting("after"));
    expect(after.statusCode, after.body).toBe(201);
    const balance = await query(p.app, "/ledgers/out/accounts/1000", after.json<{ position: string }>().position);
    expect(balance.statusCode, balance.body).toBe(200);
    expect(balance.body).toContain("5.00");
    const back = await p.app.inject({ method: "GET", url: "/metrics" });
    expect(back.body).toContain('trueup_projection_up{projection="ledger"} 1');
    expect(back.body).toContain('trueup_projection_lag_events{projection="ledger"} 0');
  });
});
