// Proves that the write-off process manager neither loses nor doubles a
// journal entry when it is killed at any point: between posting an entry and
// recording its outcome, between recording the outcome and moving its
// checkpoint (both forced by the child killing itself right there), and at
// random instants while new write-offs keep being confirmed. After the last
// restart has caught up, every requested write-off has exactly one entry in
// the ledger (the right amount, on the right accounts) and exactly one
// WriteOffPosted, and the process manager's own record has one row per
// request. It runs the platform's process-manager definition over the real
// command services on a real PostgreSQL.
//
// The budget is a fixed amount of work, not a wall-clock window (KILLS
// kills, one round of confirmations between them): a busy machine makes it
// slower, never different; the waits' bounds are only safety nets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LedgerCommandService, MatchCommandService, WriteOffProcess, writeOffEntryId } from "@trueup/command-side";
import type { CommandContext } from "@trueup/command-side";
import { createLedgerBody } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import { ProjectionWorker } from "@trueup/projections";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { seededRandom } from "../../test-support/random.ts";
import { killChildWorker, spawnChildWorker } from "../../test-support/child-worker.ts";
import type { ChildWorker } from "../../test-support/child-worker.ts";
import { writeOffProcessManager } from "../src/reconciliation-module.ts";

const LEDGER = "K";
const ACCOUNTS = ["kb1", "kb2"] as const;
const CHILD = "platform/test/fixtures/run-write-offs.ts";
/** Kills in order: the two forced windows, each twice at different depths, and random instants between. */
const KILLS = ["post:2", "random", "outcome:3", "random", "post:7", "random", "outcome:1", "random"] as const;
const FIRST_ROUND = 40;
const ROUND = 8;
const KILL_DELAY_MAX_MS = 300;
const PROGRESS_TIMEOUT_MS = 120_000;

describe("write-off process manager kill test", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let matches: MatchCommandService;
  const children = new Set<ChildWorker>();
  const expected = new Map<string, bigint>();
  let commands = 0;
  const ctx = (): CommandContext => ({ commandId: `kill-${commands++}`, actor: "clerk:test", correlationId: "kill", occurredAt: new Date("2026-04-01T00:00:00Z") });

  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 20 });
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    const ledger = new LedgerCommandService(store);
    await ledger.createLedger(ctx(), createLedgerBody.parse({ ledgerId: LEDGER, name: "Kill", baseCurrency: "EUR" }));
    for (const [code, type] of [["1000", "asset"], ["6800", "expense"]] as const) await ledger.openAccount(ctx(), LEDGER, { code, name: code, type });
    matches = new MatchCommandService({ store });
  });
  afterAll(async () => {
    for (const child of children) await killChildWorker(child);
    await store.close();
    await db.drop();
  });

  /** `count` manual matches, each with a write-off of 1..7 minor units either way, spread over two accounts. */
  async function confirmRound(round: number, count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, async (_, n) => {
      const bankAccountId = ACCOUNTS[n % ACCOUNTS.length] ?? "kb1";
      const matchId = `${bankAccountId}:r${round}n${n}`;
      const differenceMinor = BigInt((n % 7) + 1) * (n % 2 === 0 ? -1n : 1n);
      expected.set(matchId, differenceMinor);
      await matches.manualMatch(ctx(), {
        type: "ManualMatch",
        data: {
          bankAccountId, matchId, currency: "EUR", reason: null, account: { ledgerId: LEDGER, ledgerAccount: "1000" }, today: "2026-03-31",
          externals: [{ id: `x-${round}-${n}`, amountMinor: 10_000n + differenceMinor, date: `2026-03-${String(1 + (n % 28)).padStart(2, "0")}` }],
          internals: [{ id: `e-${round}-${n}:0`, amountMinor: 10_000n, date: "2026-03-01" }],
          writeOff: { ledgerAccount: "6800", limitMinor: 100n },
        },
      });
    }));
  }

  const count = async (sql: string, params: unknown[] = []): Promise<number> => (await db.pool.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0;
  const entriesPosted = (): Promise<number> => count("SELECT count(*)::int AS n FROM es_events WHERE type = 'JournalEntryPosted' AND data->'metadata'->>'reconciliationWriteOff' IS NOT NULL");
  const outcomes = (): Promise<number> => count("SELECT count(*)::int AS n FROM es_events WHERE type = 'WriteOffPosted'");
  const effects = async (): Promise<number> =>
    (await count("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'pm_write_offs' AND tablename = 'effects'")) === 0 ? 0 : count("SELECT count(*)::int AS n FROM pm_write_offs.effects");

  async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
    const deadlineMs = Date.now() + PROGRESS_TIMEOUT_MS;
    while (!(await condition())) {
      if (Date.now() > deadlineMs) throw new Error(`${what}: not within ${PROGRESS_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it("ends, after kills inside each window and at random, with exactly one entry and one outcome per write-off", { timeout: 600_000 }, async () => {
    const random = seededRandom(2026);
    await confirmRound(0, FIRST_ROUND);
    const windows = { post: 0, outcome: 0 };
    for (const [index, kill] of KILLS.entries()) {
      const env = { TRUEUP_TEST_PG: JSON.stringify(db.config), ...(kill === "random" ? {} : { TRUEUP_TEST_CRASH_AT: kill }) };
      const before = { entries: await entriesPosted(), outcomes: await outcomes(), effects: await effects() };
      const child = await spawnChildWorker(CHILD, env);
      children.add(child);
      const round = confirmRound(index + 1, ROUND);
      if (kill === "random") {
        await waitFor(async () => (await outcomes()) > before.outcomes, "progress before a random kill");
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * KILL_DELAY_MAX_MS)));
        await killChildWorker(child);
      } else {
        // It kills itself right after the effect: wait for it to be gone, then see the effect stranded past the checkpoint.
        await child.exited;
        await killChildWorker(child);
        const after = { entries: await entriesPosted(), outcomes: await outcomes(), effects: await effects() };
        if (kill.startsWith("post:") && after.entries > after.outcomes) windows.post += 1;
        if (kill.startsWith("outcome:") && after.outcomes > after.effects) windows.outcome += 1;
        // It died right after something it wrote itself: a new entry, or a new outcome (perhaps of an entry an earlier child posted).
        if (kill.startsWith("post:")) expect(after.entries, child.stderr()).toBeGreaterThan(before.entries);
        else expect(after.outcomes, child.stderr()).toBeGreaterThan(before.outcomes);
      }
      children.delete(child);
      await round;
    }
    // Both windows were really hit: an entry without its outcome, an outcome past the checkpoint.
    expect(windows).toEqual({ post: 2, outcome: 2 });

    // A last, clean run in this process catches up with everything.
    const finalWorker = new ProjectionWorker({ pool: db.pool, eventStore: store, projection: writeOffProcessManager(new WriteOffProcess({ ledger: new LedgerCommandService(store), matches })) });
    await finalWorker.runUntilCaughtUp();

    const requests = expected.size;
    expect(requests).toBe(FIRST_ROUND + KILLS.length * ROUND);
    const posted = await db.pool.query<{ entry_id: string; n: number; match_id: string; bank_side: string; amount: string; other: string; date: string }>(
      `SELECT data->>'entryId' AS entry_id, count(*) OVER (PARTITION BY data->>'entryId')::int AS n, data->'metadata'->>'reconciliationWriteOff' AS match_id,
              data->'lines'->0->>'side' AS bank_side, data->'lines'->0->>'amountMinor' AS amount, data->'lines'->1->>'accountCode' AS other, data->>'effectiveDate' AS date
         FROM es_events WHERE type = 'JournalEntryPosted' AND data->'metadata'->>'reconciliationWriteOff' IS NOT NULL`,
    );
    expect(posted.rows).toHaveLength(requests);
    for (const row of posted.rows) {
      const difference = expected.get(row.match_id);
      expect(difference, row.match_id).toBeDefined();
      expect(row).toMatchObject({ n: 1, entry_id: writeOffEntryId(row.match_id), bank_side: (difference ?? 0n) < 0n ? "credit" : "debit", other: "6800" });
      expect(BigInt(row.amount)).toBe((difference ?? 0n) < 0n ? -(difference ?? 0n) : difference);
    }
    const recorded = await db.pool.query<{ match_id: string; n: number }>("SELECT data->>'matchId' AS match_id, count(*)::int AS n FROM es_events WHERE type = 'WriteOffPosted' GROUP BY 1");
    expect(recorded.rows).toHaveLength(requests);
    expect(recorded.rows.every((r) => r.n === 1)).toBe(true);
    expect(await count("SELECT count(*)::int AS n FROM es_events WHERE type = 'WriteOffRefused'")).toBe(0);
    expect(await effects()).toBe(requests);
  });
});
