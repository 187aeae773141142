// Proves that only the projections service creates or rebuilds read-model
// schemas (defect 10): a query-only or command-only process never creates
// one and never rebuilds one after a version bump; it answers /ready and its
// routes with 503 READ_MODEL_NOT_READY until the projections service has
// made the schema it reads at its version, then serves; and its wait is
// bounded (readModelsReady rejects, so main.ts exits non-zero).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import { ledgerProjection, readLiveCheckpoint } from "@trueup/projections";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { compose } from "../src/compose.ts";
import type { ComposeOptions, Composed } from "../src/compose.ts";
import type { Service } from "../src/config.ts";
import { ledgerModule } from "../src/ledger-module.ts";
import type { BoundedContextModule } from "../src/modules.ts";

/** Generous: a bound on a wait for an event, never a timing assertion. */
const READY_WAIT_MAX_MS = 60_000;

let db: TestDatabase;
let store: PostgresEventStore;
const open: Composed[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
});

afterAll(async () => {
  for (const composed of open) await composed.close();
  await store.close();
  await db.drop();
});

async function start(services: readonly Service[], extra: Partial<ComposeOptions> = {}): Promise<Composed> {
  const composed = await compose({
    services,
    logLevel: "silent",
    pool: db.pool,
    eventStore: store,
    ping: async () => {
      await db.pool.query("SELECT 1");
    },
    readModelGate: { pollMs: 50 },
    ...extra,
  });
  open.push(composed);
  return composed;
}

async function stop(composed: Composed): Promise<void> {
  open.splice(open.indexOf(composed), 1);
  await composed.close();
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`${what}: not within ${READY_WAIT_MAX_MS} ms`)); }, READY_WAIT_MAX_MS);
  });
  return Promise.race([promise, bound]).finally(() => { clearTimeout(timer); });
}

async function schemas(): Promise<string[]> {
  const { rows } = await db.pool.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'rm_ledger') ORDER BY nspname");
  return rows.map((r) => r.nspname);
}

const bumped = { ...ledgerProjection, version: ledgerProjection.version + 1 };
const bumpedModule: BoundedContextModule = { ...ledgerModule, projections: [bumped], commandReads: [bumped] };

describe("read-model schemas per service", () => {
  it("a query-only process creates nothing and answers 503 until the projections service has created the schema", async () => {
    const query = await start(["query"]);
    expect(await schemas()).toEqual([]);
    const ready = await query.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json<{ reason: string }>().reason).toMatch(/rm_ledger/);
    const read = await query.app.inject({ method: "GET", url: "/ledgers/books/accounts" });
    expect(read.statusCode, read.body).toBe(503);
    expect(read.json<{ code: string }>().code).toBe("READ_MODEL_NOT_READY");
    expect(read.headers["retry-after"]).toBe("1");
    expect(await schemas()).toEqual([]);

    const projections = await start(["projections"]);
    expect(await schemas()).toEqual(["rm_ledger"]);
    await within(query.readModelsReady, "query process ready");
    expect((await query.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
    const served = await query.app.inject({ method: "GET", url: "/ledgers/books/accounts" });
    expect(served.json<{ code: string }>().code).toBe("LEDGER_NOT_FOUND");
    await stop(query);
    await stop(projections);
  });

  it("after a version bump a command-only or query-only process does not rebuild: it waits for the projections service", async () => {
    await (await start(["projections"])).close();
    const before = await readLiveCheckpoint(db.pool, ledgerProjection);
    expect(before?.version).toBe(ledgerProjection.version);

    const command = await start(["command"], { modules: [bumpedModule] });
    const query = await start(["query"], { modules: [bumpedModule] });
    expect((await readLiveCheckpoint(db.pool, ledgerProjection))?.version).toBe(ledgerProjection.version);
    expect(await schemas()).toEqual(["rm_ledger"]);
    // The gate's first look runs after start-up: until it has looked, /ready says so (also 503).
    let ready = await command.app.inject({ method: "GET", url: "/ready" });
    for (let attempt = 0; attempt < 600 && ready.json<{ reason: string }>().reason.startsWith("read models not checked yet"); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      ready = await command.app.inject({ method: "GET", url: "/ready" });
    }
    expect(ready.statusCode).toBe(503);
    expect(ready.json<{ reason: string }>().reason).toMatch(new RegExp(`version ${ledgerProjection.version}.*version ${bumped.version}`));
    // Decisions come from the log: postings do not wait for the read model.
    const post = await command.app.inject({
      method: "POST",
      url: "/ledgers",
      payload: { ledgerId: "bumped", name: "Bumped", baseCurrency: "EUR" },
      headers: { "idempotency-key": "bump-1" },
    });
    expect(post.statusCode, post.body).toBe(201);

    const projections = await start(["projections"], { modules: [bumpedModule] });
    expect((await readLiveCheckpoint(db.pool, ledgerProjection))?.version).toBe(bumped.version);
    await within(Promise.all([command.readModelsReady, query.readModelsReady]), "command and query processes ready");
    expect((await command.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
    expect((await query.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
    await stop(command);
    await stop(query);
    await stop(projections);
  });

  it("gives up after its bound: readModelsReady rejects and /ready stays 503", async () => {
    const newer = { ...ledgerProjection, version: ledgerProjection.version + 5 };
    const query = await start(["query"], { modules: [{ ...ledgerModule, projections: [newer], commandReads: [] }], readModelGate: { pollMs: 20, waitMaxMs: 200 } });
    await expect(within(query.readModelsReady, "the bounded wait")).rejects.toThrow(/not ready after 200 ms/);
    expect((await query.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(503);
    await stop(query);
  });
});
