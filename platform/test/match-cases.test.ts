// Proves, through the HTTP API over a real PostgreSQL and without MONGO_URL,
// the matches' case files (the cases document projection, wired into the
// platform):
// - after a run and a reject, GET /matches/{id}/case shows the match's
//   explanation and its history with actors and reasons, the decision in it
//   at once when read with the decision's position (minPosition);
// - a query-only process (its worker elsewhere) answers the same, waiting
//   for the cases checkpoint through the document store;
// - an unknown match is 404 MATCH_NOT_FOUND, a bad id 400;
// - without MongoDB the documents are JSONB rows in the dm_documents schema;
// - the operations routes report the cases projection (lag, worker state,
//   /metrics) and refuse its dead-letter retry with a typed 400;
// - /ready is honest: a document worker that fails makes the process 503,
//   with its reason; an outage of the document store reads as 503
//   STORE_UNAVAILABLE (retry), not a 500.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bankAccountStream } from "@trueup/contracts";
import { PostgresEventStore, parsePosition } from "@trueup/event-store";
import { AUTO_CONFIRMED_REASON, TransientDocumentError, casesProjection } from "@trueup/projections";
import type { DocumentProjection } from "@trueup/projections";
import { createTestDatabase } from "../../test-support/postgres.ts";
import { reconciliationEvent } from "../../test-support/reconciliation-events.ts";
import { compose } from "../src/compose.ts";
import { DOCUMENT_SCHEMA_NAME, readDocuments } from "../src/document-read-models.ts";
import type { BoundedContextModule } from "../src/modules.ts";
import { command, key, query } from "./ledger-support.ts";
import { importFile, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "mc";
const ACCOUNT = "mc_bank";
const CSV = ["Date,Amount,Reference", "2026-03-02,100.00,INV-1", "2026-03-03,250.00,INV-2", "2026-03-04,80.00,"].join("\n") + "\n";
/** Generous: a bound on a wait for an event, never a timing assertion. */
const WAIT_MAX_MS = 60_000;

interface HistoryEntry { type: string; position: string; at: string; actor: string; reason: string | null; automatic: boolean }
interface CaseFile {
  matchId: string;
  status: string;
  runId: string | null;
  score: number;
  criteria: { criterion: string; reason: string }[];
  externalIds: string[];
  internalIds: string[];
  differenceMinor: string;
  writeOff: unknown;
  history: HistoryEntry[];
  historyDropped: number;
}
interface Page<T> { items: T[]; nextCursor: string | null }

async function waitUntil(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + WAIT_MAX_MS;
  while (!(await condition())) {
    if (Date.now() > deadlineMs) throw new Error(`not within ${WAIT_MAX_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("match case files through the API, documents in PostgreSQL JSONB", () => {
  let p: ImportPlatform;
  let runPosition = "";
  let rejectPosition = "";
  let rejectedId = "";
  let confirmedId = "";
  const decide = async (url: string, body: unknown, actor: string): Promise<LightMyRequestResponse> =>
    p.app.inject({ method: "POST", url, payload: body as object, headers: { "idempotency-key": key(), "content-type": "application/json", "x-actor": actor } });
  const caseFile = async (matchId: string, at: string | null): Promise<CaseFile> => {
    const response = await query(p.app, `/matches/${matchId}/case`, at);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<CaseFile>();
  };

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, iban: "DE89370400440532013000" });
    expect((await command(p.app, `/ledgers/${LEDGER}/accounts`, { code: "4000", name: "Sales", type: "revenue" })).statusCode).toBe(201);
    expect((await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "simple", name: "Simple", currency: "EUR", dateFormat: "YYYY-MM-DD", columns: { bookingDate: "Date", amount: "Amount", bankReference: { names: ["Reference"], optional: false } } })).statusCode).toBe(201);
    const imported = await importFile(p.app, `/bank-accounts/${ACCOUNT}/statements`, CSV, { query: { format: "csv", profile: "simple" } });
    expect(imported.statusCode, imported.body).toBe(201);
    for (const [entryId, amount, date, reference] of [["a1", "100.00", "2026-03-02", "INV-1"], ["a2", "250.00", "2026-03-03", "INV-2"], ["a3", "80.00", "2026-03-04", null]] as const) {
      const posted = await command(p.app, `/ledgers/${LEDGER}/journal-entries`, {
        entryId, effectiveDate: date, description: `sale ${entryId}`, ...(reference === null ? {} : { externalReference: reference }),
        lines: [{ account: "1000", side: "debit", amount, currency: "EUR" }, { account: "4000", side: "credit", amount, currency: "EUR" }],
      });
      expect(posted.statusCode, posted.body).toBe(201);
    }
    await waitUntil("the statement and the entries are in the read models", async () => {
      const lines = await query(p.app, `/bank-accounts/${ACCOUNT}/lines`);
      const entries = await query(p.app, `/ledgers/${LEDGER}/journal-entries?account=1000`);
      return lines.statusCode === 200 && lines.json<Page<unknown>>().items.length === 3 && entries.statusCode === 200 && entries.json<Page<unknown>>().items.length === 3;
    });
    const run = await decide(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {}, "clerk:ana");
    expect(run.statusCode, run.body).toBe(201);
    runPosition = run.json<{ position: string }>().position;
    const matches = await query(p.app, `/bank-accounts/${ACCOUNT}/matches`, runPosition);
    const items = matches.json<Page<{ matchId: string; status: string }>>().items;
    confirmedId = items.find((m) => m.status === "confirmed")?.matchId ?? "";
    const suggested = items.find((m) => m.status === "suggested")?.matchId ?? "";
    expect(confirmedId).not.toBe("");
    expect(suggested).not.toBe("");
    const rejected = await decide(`/matches/${suggested}/reject`, { reason: "another customer's payment" }, "clerk:bo");
    expect(rejected.statusCode, rejected.body).toBe(200);
    rejectedId = suggested;
    rejectPosition = rejected.json<{ position: string }>().position;
  });
  afterAll(async () => {
    await p.close();
  });

  it("shows a rejected match's explanation and its history with actors and reasons", async () => {
    const file = await caseFile(rejectedId, rejectPosition);
    expect(file).toMatchObject({ matchId: rejectedId, status: "rejected", differenceMinor: "0", writeOff: null, historyDropped: 0 });
    expect(file.runId).not.toBeNull();
    expect(file.externalIds).toHaveLength(1);
    expect(file.criteria.length).toBeGreaterThan(0);
    expect(file.criteria.every((c) => c.reason !== "")).toBe(true);
    expect(file.history).toEqual([
      { type: "MatchProposed", position: expect.any(String) as unknown, at: expect.any(String) as unknown, actor: "clerk:ana", reason: null, automatic: true },
      { type: "MatchRejected", position: rejectPosition, at: expect.any(String) as unknown, actor: "clerk:bo", reason: "another customer's payment", automatic: false },
    ]);
    expect(Number.isNaN(Date.parse(file.history[1]?.at ?? ""))).toBe(false);
  });

  it("shows an auto-confirmed match as the run's doing", async () => {
    const file = await caseFile(confirmedId, runPosition);
    expect(file.status).toBe("confirmed");
    // Confirmed with its proposal, in one event: one entry, whose reason says so.
    expect(file.history.map((h) => [h.type, h.actor, h.automatic, h.reason])).toEqual([["MatchProposed", "clerk:ana", true, AUTO_CONFIRMED_REASON]]);
  });

  it("answers the same from a query-only process, which waits for the cases checkpoint through the document store", async () => {
    const queryOnly = await compose({ services: ["query"], logLevel: "silent", pool: p.db.pool, eventStore: p.store, ping: async () => { await p.db.pool.query("SELECT 1"); }, readModelGate: { pollMs: 20 } });
    try {
      await queryOnly.readModelsReady;
      expect(queryOnly.documentWorkers).toEqual([]);
      const response = await query(queryOnly.app, `/matches/${rejectedId}/case`, rejectPosition);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual(await caseFile(rejectedId, null));
    } finally {
      await queryOnly.close();
    }
  });

  it("answers 404 MATCH_NOT_FOUND for an unknown match and 400 for an id no match can have", async () => {
    const unknown = await query(p.app, `/matches/${ACCOUNT}:nothing/case`, rejectPosition);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: "MATCH_NOT_FOUND" });
    const bad = await query(p.app, "/matches/-bad/case");
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: "VALIDATION_FAILED", path: "/matchId" });
  });

  it("keeps the documents as JSONB rows in the dm_ schema when no MongoDB is configured", async () => {
    const schemas = await p.db.pool.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'dm_') ORDER BY nspname");
    expect(schemas.rows.map((r) => r.nspname)).toEqual([DOCUMENT_SCHEMA_NAME]);
    const rows = await p.db.pool.query<{ collection: string; n: number }>(`SELECT collection, count(*)::int AS n FROM ${DOCUMENT_SCHEMA_NAME}.documents GROUP BY collection ORDER BY collection`);
    // The rejected 1:1 match opened its two items again: their item case files say so (item-cases.test.ts).
    expect(rows.rows).toEqual([{ collection: "item_cases", n: 2 }, { collection: "match_cases", n: 3 }, { collection: "runs", n: 1 }]);
    const stored = await p.db.pool.query<{ type: string }>(`SELECT jsonb_typeof(body -> 'differenceMinor') AS type FROM ${DOCUMENT_SCHEMA_NAME}.documents WHERE collection = 'match_cases' AND id = $1`, [rejectedId]);
    expect(stored.rows).toEqual([{ type: "string" }]);
  });

  it("reports the cases projection in /projections and /metrics, and refuses a dead-letter retry of it", async () => {
    const rejected = parsePosition(rejectPosition);
    if (rejected === undefined) throw new Error(`not a position: ${rejectPosition}`);
    await waitUntil("the cases projection is caught up", async () => (await p.composed.documentWorkers[0]?.waitForPosition(rejected, 0)) === true);
    const listed = (await p.app.inject({ method: "GET", url: "/projections" })).json<{ items: { name: string; worker: { state: string } | null; deadLetters: { parked: number; blocking: number } }[] }>();
    expect(listed.items.map((i) => i.name)).toContain(casesProjection.name);
    expect(listed.items.find((i) => i.name === casesProjection.name)).toMatchObject({ worker: { state: "running" }, deadLetters: { parked: 0, blocking: 0 } });
    const metrics = (await p.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toContain('trueup_projection_up{projection="cases"} 1');
    expect(metrics).toContain('trueup_projection_read_model_reachable{projection="cases"} 1');
    expect(metrics).toMatch(/trueup_projection_lag_events\{projection="cases"\} \d+/);
    const retry = await p.app.inject({ method: "POST", url: "/projections/cases/retry" });
    expect(retry.statusCode, retry.body).toBe(400);
    expect(retry.json()).toMatchObject({ code: "VALIDATION_FAILED", path: "/name" });
    expect((await p.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
  });
});

describe("/ready with a document worker that fails", () => {
  it("is 503 with the failed projection's reason", async () => {
    const db = await createTestDatabase();
    const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    const broken: DocumentProjection = {
      ...casesProjection,
      name: "broken_cases",
      collections: ["broken_cases"],
      filter: { categories: ["bankaccount"] },
      plan: () => {
        throw new Error("this build cannot read the event");
      },
    };
    const brokenModule: BoundedContextModule = { name: "broken", projections: [broken], commandReads: [] };
    const composed = await compose({ services: ["projections"], logLevel: "silent", pool: db.pool, eventStore: store, modules: [brokenModule], ping: async () => { await db.pool.query("SELECT 1"); } });
    try {
      expect((await composed.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
      const registered = reconciliationEvent("BankAccountRegistered", {
        bankAccountId: "rb", ledgerId: "rl", kind: "bank", name: "Broken", iban: null, accountNumber: "1", bankId: null, currency: "EUR", ledgerAccount: "1000",
      });
      await store.append(bankAccountStream("rb"), [registered], { expectedRevision: "no-stream" });
      await waitUntil("the document worker failed", () => Promise.resolve(composed.documentWorkers[0]?.status.state === "failed"));
      const ready = await composed.app.inject({ method: "GET", url: "/ready" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json<{ reason: string }>().reason).toMatch(/projection broken_cases has stopped: .*this build cannot read the event/);
    } finally {
      await composed.close();
      await store.close();
      await db.drop();
    }
  });
});

describe("an outage of the document store", () => {
  it("reads as the catalogue's 503 STORE_UNAVAILABLE; other errors pass as thrown", async () => {
    await expect(readDocuments(() => Promise.reject(new TransientDocumentError("connection terminated")))).rejects.toMatchObject({ code: "STORE_UNAVAILABLE", status: 503 });
    const bug = new TypeError("not an outage");
    await expect(readDocuments(() => Promise.reject(bug))).rejects.toBe(bug);
  });
});
