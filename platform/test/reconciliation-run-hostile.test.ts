// Proves, over a real PostgreSQL, what a reconciliation run does when the
// world misbehaves in the middle of it:
// - the event store goes away after the run's first slice of proposals
//   landed: the run fails with a retryable error; retried with the same
//   command id on a store that is back, it records every proposal exactly
//   once and one run record, and its counts include the slice that landed
//   before the outage (they come from the log, not from the slices' answers);
// - the client vanishes right after sending the run over HTTP: the run
//   still completes, and the same Idempotency-Key then returns its answer
//   as a replay, with the run recorded once.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconStream } from "@trueup/contracts";
import { MatchCommandService, PostgresMatchItemReader, runReconciliation } from "@trueup/command-side";
import { StoreUnavailableError, StreamNotFoundError } from "@trueup/event-store";
import { ledgerProjection, reconciliationProjection } from "@trueup/projections";
import { withOverrides } from "../../test-support/event-store.ts";
import { command, key, query } from "./ledger-support.ts";
import { importFile, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "rh";
const LINES = 6;

async function seed(p: ImportPlatform, bankAccountId: string, iban: string, prefix: string): Promise<void> {
  await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId, iban, createLedger: prefix === "A" });
  if (prefix === "A") {
    expect((await command(p.app, `/ledgers/${LEDGER}/accounts`, { code: "4000", name: "Sales", type: "revenue" })).statusCode).toBe(201);
    expect((await command(p.app, `/ledgers/${LEDGER}/csv-profiles`, { profileId: "simple", name: "Simple", currency: "EUR", dateFormat: "YYYY-MM-DD", columns: { bookingDate: "Date", amount: "Amount", bankReference: { names: ["Reference"], optional: false } } })).statusCode).toBe(201);
  }
  const rows = Array.from({ length: LINES }, (_, n) => `2026-03-${String(2 + n).padStart(2, "0")},${100 + n}.00,${prefix}-INV-${n}`);
  const imported = await importFile(p.app, `/bank-accounts/${bankAccountId}/statements`, ["Date,Amount,Reference", ...rows].join("\n") + "\n", { query: { format: "csv", profile: "simple" } });
  expect(imported.statusCode, imported.body).toBe(201);
}

describe("a reconciliation run under an outage and a vanished client", () => {
  let p: ImportPlatform;
  const ACCOUNTS = { outage: "rh_outage", vanish: "rh_vanish" };
  const matchEvents = async (bankAccountId: string): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    const events = await p.store.readStream(reconStream(bankAccountId)).catch((error: unknown) => {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    });
    for (const event of events) counts[event.type] = (counts[event.type] ?? 0) + 1;
    return counts;
  };

  beforeAll(async () => {
    p = await startImportPlatform();
    await seed(p, ACCOUNTS.outage, "DE89370400440532013000", "A");
    await seed(p, ACCOUNTS.vanish, "GB82WEST12345698765432", "B");
    // The same references in the books: the account of each line is 1000, the other 4000.
    for (const prefix of ["A", "B"]) {
      for (let n = 0; n < LINES; n++) {
        const posted = await command(p.app, `/ledgers/${LEDGER}/journal-entries`, {
          entryId: `${prefix}${n}`, effectiveDate: `2026-03-${String(2 + n).padStart(2, "0")}`, description: `sale ${prefix}${n}`, externalReference: `${prefix}-INV-${n}`,
          lines: [{ account: "1000", side: "debit", amount: `${100 + n}.00`, currency: "EUR" }, { account: "4000", side: "credit", amount: `${100 + n}.00`, currency: "EUR" }],
        });
        expect(posted.statusCode, posted.body).toBe(201);
      }
    }
    for (let tries = 0; ; tries++) {
      const a = await query(p.app, `/bank-accounts/${ACCOUNTS.outage}/unmatched?side=internal`);
      const b = await query(p.app, `/bank-accounts/${ACCOUNTS.vanish}/unmatched?side=external`);
      if (a.json<{ items?: unknown[] }>().items?.length === 2 * LINES && b.json<{ items?: unknown[] }>().items?.length === LINES) break;
      expect(tries, "the read models never caught up").toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("survives the store going away between two slices: a retry records each proposal once and counts the slice that landed", async () => {
    const bankAccountId = ACCOUNTS.outage;
    const items = new PostgresMatchItemReader(p.db.pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName });
    let appends = 0;
    const failing = withOverrides(p.store, {
      append: (...args: Parameters<typeof p.store.append>) => {
        appends += 1;
        if (appends >= 2) return Promise.reject(new StoreUnavailableError("the store went away (test)"));
        return p.store.append(...args);
      },
    });
    const ctx = { commandId: `outage-${key()}`, actor: "clerk:test", correlationId: "outage", occurredAt: new Date() };
    const options = { dryRun: false, from: null, to: null };
    const limits = { proposalsPerAppendMax: 2 };
    const failed = await runReconciliation({ store: failing, service: new MatchCommandService({ store: failing }), items, limits }, ctx, bankAccountId, options).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(Error);
    expect(await matchEvents(bankAccountId)).toEqual({ MatchProposed: 2 });

    const answer = await runReconciliation({ store: p.store, service: new MatchCommandService({ store: p.store }), items, limits }, ctx, bankAccountId, options);
    expect(answer).toMatchObject({ proposals: { "1:1": LINES }, autoConfirmed: LINES, suggested: 0, conflicts: 0 });
    expect(await matchEvents(bankAccountId)).toEqual({ MatchProposed: LINES, ReconciliationRunRecorded: 1 });
    const recorded = await query(p.app, `/reconciliation-runs/${answer.runId}`, answer.position ?? null);
    expect(recorded.json()).toMatchObject({ autoConfirmed: LINES, suggested: 0, conflicts: 0, now: [{ kind: "1:1", status: "confirmed", count: LINES }] });
  });

  it("finishes a run whose client vanished, and answers the same key with the run's answer", async () => {
    const bankAccountId = ACCOUNTS.vanish;
    const address = await p.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = new URL(address);
    const idempotencyKey = key();
    const body = "{}";
    // Send the whole request, then hang up without reading the answer.
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(port), "127.0.0.1", () => {
        socket.write(`POST /bank-accounts/${bankAccountId}/reconciliation-runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: ${idempotencyKey}\r\nContent-Length: ${body.length}\r\n\r\n${body}`, () => {
          socket.destroy();
          resolve();
        });
      });
      socket.on("error", reject);
    });
    for (let tries = 0; ; tries++) {
      if ((await matchEvents(bankAccountId)).ReconciliationRunRecorded === 1) break;
      expect(tries, "the run never finished after its client left").toBeLessThan(400);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    let again = await command(p.app, `/bank-accounts/${bankAccountId}/reconciliation-runs`, {}, idempotencyKey);
    // The answer is stored just after the run's last append: a retry in between is told to come back (409).
    for (let tries = 0; again.statusCode === 409 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      again = await command(p.app, `/bank-accounts/${bankAccountId}/reconciliation-runs`, {}, idempotencyKey);
    }
    expect(again.statusCode, again.body).toBe(201);
    expect(again.headers["idempotent-replayed"] ?? again.json<{ replayed?: boolean }>().replayed).toBeTruthy();
    expect(again.json()).toMatchObject({ autoConfirmed: LINES, conflicts: 0 });
    expect(await matchEvents(bankAccountId)).toEqual({ MatchProposed: LINES, ReconciliationRunRecorded: 1 });
  });
});
