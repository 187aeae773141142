// Phase 3 of the ledger bench: the trial balance through the query API, next
// to its limit measured in the same run: the same balance rows read by a
// plain pg client straight from the read model (the query a trial balance
// cannot do without, with none of the API's work: account names, formatting
// the 1 MB answer, HTTP). The two alternate request by request, the order
// flipping each time, so a noisy stretch hits both alike.
import assert from "node:assert/strict";
import pg from "pg";
import { ledgerProjection } from "@trueup/projections";
import type { MachineLoad } from "./machine-load.ts";
import { percentile } from "./timing.ts";

export interface TrialLimits {
  readonly accounts: number;
  readonly warmupRequests: number;
  readonly requests: number;
}

export interface TrialResult {
  /** Ascending latencies, ms. */
  readonly apiMs: readonly number[];
  readonly sqlMs: readonly number[];
  /** Other programs' CPU while the samples were taken, in cores. */
  readonly otherCores: number;
}

export const trialP = (samples: readonly number[], q: number): number => percentile(samples, q);

async function apiRequest(url: string, ledgerId: string, accounts: number): Promise<number> {
  // Timed to the last byte received; parsing the answer is the client's cost, checked after.
  const started = performance.now();
  const response = await fetch(`${url}/ledgers/${ledgerId}/trial-balance`);
  const bytes = await response.arrayBuffer();
  const elapsedMs = performance.now() - started;
  const body = JSON.parse(Buffer.from(bytes).toString("utf8")) as { rows: unknown[]; totals: { balanced: boolean }[] };
  if (!response.ok || body.rows.length !== accounts || body.totals.some((t) => !t.balanced)) throw new Error(`bad trial balance: ${response.status}`);
  return elapsedMs;
}

async function sqlRequest(pool: pg.Pool, ledgerId: string, accounts: number): Promise<number> {
  const table = `${pg.escapeIdentifier(ledgerProjection.schemaName)}.balances`;
  const started = performance.now();
  const result = await pool.query(`SELECT code, currency, debit_minor, credit_minor FROM ${table} WHERE ledger_id = $1 ORDER BY code, currency`, [ledgerId]);
  const elapsedMs = performance.now() - started;
  assert.equal(result.rows.length, accounts, "every account has one balance row");
  return elapsedMs;
}

export async function measureTrial(options: { readonly url: string; readonly database: pg.ClientConfig; readonly ledgerId: string; readonly limits: TrialLimits; readonly load: MachineLoad }): Promise<TrialResult> {
  const { url, ledgerId, limits } = options;
  const pool = new pg.Pool({ ...options.database, max: 1, idleTimeoutMillis: 600_000, connectionTimeoutMillis: 10_000 });
  try {
    // Warm-up, untimed: the first API request reads the account names into the server's cache and runs
    // before the JIT has compiled anything (one run: 83 ms, then 34, then ≤ 28); the first query plans.
    for (let i = 0; i < limits.warmupRequests; i++) {
      await apiRequest(url, ledgerId, limits.accounts);
      await sqlRequest(pool, ledgerId, limits.accounts);
    }
    const apiMs: number[] = [];
    const sqlMs: number[] = [];
    options.load.begin();
    for (let i = 0; i < limits.requests; i++) {
      if (i % 2 === 0) {
        apiMs.push(await apiRequest(url, ledgerId, limits.accounts));
        sqlMs.push(await sqlRequest(pool, ledgerId, limits.accounts));
      } else {
        sqlMs.push(await sqlRequest(pool, ledgerId, limits.accounts));
        apiMs.push(await apiRequest(url, ledgerId, limits.accounts));
      }
    }
    const otherCores = options.load.end();
    return { apiMs: apiMs.sort((a, b) => a - b), sqlMs: sqlMs.sort((a, b) => a - b), otherCores };
  } finally {
    await pool.end();
  }
}
