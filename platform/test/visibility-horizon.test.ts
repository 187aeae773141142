// Proves defect 4 is bounded and visible: a transaction left idle anywhere on
// the PostgreSQL server (here: BEGIN; SELECT txid_current(); on another
// connection, then nothing) holds every newer event back from every reader.
// While it is open, /projections must report the projection behind (not 0),
// name the backend holding the horizon (pid, application_name, state), and
// /metrics must show it; the event store warns through onHorizonHeld. Once
// it ends, everything flows again by itself.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import type { VisibilityReport } from "@trueup/event-store";
import { SESSION_TIMEOUTS } from "../src/storage.ts";
import type { Platform } from "./ledger-support.ts";
import { command, query, startPlatform } from "./ledger-support.ts";

interface ProjectionsView {
  items: { name: string; eventsBehind: number; eventsHeldBack: number }[];
  eventStore: { heldBackEvents: number; newestCommitted: string | null; newestVisible: string | null; horizonHeldBy: { pid: number; applicationName: string; state: string; heldForSeconds: number } | null };
}

/** Polls `read` until `done` holds, for at most `timeoutMs` (generous: the machine is shared); returns the last value. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const entry = {
  effectiveDate: "2026-03-10",
  description: "sale",
  lines: [
    { account: "1200", side: "debit", amount: "5.00", currency: "EUR" },
    { account: "4000", side: "credit", amount: "5.00", currency: "EUR" },
  ],
};

describe("a transaction left idle on the server", () => {
  let p: Platform;
  const ledgerId = "HORIZON";
  beforeAll(async () => {
    p = await startPlatform();
    expect((await command(p.app, "/ledgers", { ledgerId, name: "Books", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const [code, type] of [["1200", "asset"], ["4000", "revenue"]] as const) {
      expect((await command(p.app, `/ledgers/${ledgerId}/accounts`, { code, name: `A${code}`, type })).statusCode).toBe(201);
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("is reported as lag with its holder named, warned about, and once it ends everything flows", async () => {
    const projections = async (): Promise<ProjectionsView> => (await p.app.inject({ method: "GET", url: "/projections" })).json<ProjectionsView>();
    const caughtUp = await until(projections, (v) => v.items.every((i) => i.eventsBehind === 0));
    expect(caughtUp.items.map((i) => i.eventsBehind)).toEqual(caughtUp.items.map(() => 0));

    const idle = new pg.Client({ ...p.db.config, application_name: "hostile-idle" });
    await idle.connect();
    const warnings: VisibilityReport[] = [];
    const watcher = await PostgresEventStore.open({ pool: p.db.pool, listenConnection: p.db.config, horizonHeldWarnMs: 50, onHorizonHeld: (report) => warnings.push(report) });
    try {
      await idle.query("BEGIN");
      const pid = (await idle.query<{ pid: number }>("SELECT pg_backend_pid() AS pid, txid_current()")).rows[0]?.pid;
      // Appends are not blocked: the posting commits, but no reader may see it while the idle transaction is older.
      const posted = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry);
      expect(posted.statusCode).toBe(201);

      const held = await until(projections, (v) => v.eventStore.horizonHeldBy?.pid === pid && v.items.some((i) => i.eventsBehind > 0));
      expect(held.items.find((i) => i.name === "ledger")?.eventsBehind).toBeGreaterThan(0);
      expect(held.items.find((i) => i.name === "ledger")?.eventsHeldBack).toBeGreaterThan(0);
      expect(held.eventStore.heldBackEvents).toBeGreaterThan(0);
      expect(held.eventStore.newestCommitted).not.toBe(held.eventStore.newestVisible);
      expect(held.eventStore.horizonHeldBy).toMatchObject({ pid, applicationName: "hostile-idle", state: "idle in transaction" });
      const metrics = (await p.app.inject({ method: "GET", url: "/metrics" })).body;
      expect(metrics).toMatch(/^trueup_event_store_held_back_events [1-9]\d*$/m);

      // A subscriber polling meanwhile is told who holds it, through the store's warning hook.
      const subscription = watcher.subscribe({ after: (await watcher.headPosition()) ?? undefined, bufferEventsMax: 1 });
      const waiting = subscription.next();
      await until(() => Promise.resolve(warnings.length), (n) => warnings.some((w) => w.holder?.pid === pid) || n > 50);
      expect(warnings.find((w) => w.holder?.pid === pid)).toMatchObject({ holder: { applicationName: "hostile-idle" } });

      await idle.query("ROLLBACK");
      // Everything flows by itself: the subscriber gets the posting, the projection catches up, reads see it.
      const delivered = await waiting;
      expect(delivered.done).toBe(false);
      await subscription.close();
      const flowing = await until(projections, (v) => v.items.every((i) => i.eventsBehind === 0) && v.eventStore.heldBackEvents === 0);
      expect(flowing.items.map((i) => i.eventsBehind)).toEqual(flowing.items.map(() => 0));
      const balance = await query(p.app, `/ledgers/${ledgerId}/accounts/1200`, posted.json<{ position: string }>().position);
      expect(balance.statusCode).toBe(200);
    } finally {
      await idle.end().catch(() => undefined);
      await watcher.close();
    }
  }, 120_000);

  it("our own connections carry the bounds: idle-in-transaction and statement timeouts", async () => {
    // SESSION_TIMEOUTS is what storage.ts gives every pool and the LISTEN connection.
    const client = new pg.Client({ ...p.db.config, ...SESSION_TIMEOUTS });
    await client.connect();
    try {
      const idle = await client.query<{ v: string }>("SELECT current_setting('idle_in_transaction_session_timeout') AS v");
      const statement = await client.query<{ v: string }>("SELECT current_setting('statement_timeout') AS v");
      expect(idle.rows[0]?.v).toBe(`${SESSION_TIMEOUTS.idle_in_transaction_session_timeout / 1000}s`);
      expect(statement.rows[0]?.v).toBe(`${SESSION_TIMEOUTS.statement_timeout / 1000}s`);
    } finally {
      await client.end();
    }
  });
});
