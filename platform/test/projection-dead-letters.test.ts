// Proves what an operator meets when an event in the log cannot be projected
// (issue #8, defect 2): the ledger projection holds on it as a dead letter;
// /ready answers 503 naming the position, /projections lists the dead letter
// with its error and the worker as halted, /metrics counts it; the retry
// command (POST /projections/{name}/retry) makes the worker try it again (here
// without a fix, so it is held again, its attempts counted), and an unknown
// projection is a 404. The bad event is appended through the event-store port,
// as an old bug or another writer would have left it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newEventId, streamName } from "@trueup/contracts";
import type { Platform } from "./ledger-support.ts";
import { command, startPlatform } from "./ledger-support.ts";

const WAIT_MAX_MS = 60_000;

let p: Platform;
beforeAll(async () => {
  p = await startPlatform();
});
afterAll(async () => {
  await p.close();
});

async function waitUntil(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + WAIT_MAX_MS;
  while (!(await condition())) {
    if (Date.now() > deadlineMs) throw new Error(`not reached within ${WAIT_MAX_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface ProjectionsBody {
  items: {
    name: string;
    worker: { state: string; haltedAt: string | null } | null;
    deadLetters: { parked: number; blocking: number; items: { position: string; status: string; attempts: number; error: string; type: string }[] };
  }[];
}

describe("a dead letter, as the operator sees it", () => {
  it("is reported by /ready, /projections and /metrics, and retried on request", async () => {
    expect((await command(p.app, "/ledgers", { ledgerId: "dl", name: "Dead letters", baseCurrency: "EUR" })).statusCode).toBe(201);
    const bad = {
      ledgerId: "dl", entryId: "bad", effectiveDate: "2026-02-01", description: "unbalanced", externalReference: null, metadata: {}, reverses: null,
      lines: [{ accountCode: "1000", side: "debit", amountMinor: "5", currency: "EUR" }, { accountCode: "4000", side: "credit", amountMinor: "4", currency: "EUR" }],
    };
    const metadata = { actor: "user:test", correlationId: "c", causationId: "c", commandId: "c", occurredAt: "2026-02-01T00:00:00.000Z" };
    const { position } = await p.store.append(streamName("period", "dl:2026-02"), [{ eventId: newEventId(), type: "JournalEntryPosted", schemaVersion: 1, data: bad, metadata }], { expectedRevision: "any" });

    await waitUntil("/ready is 503", async () => (await p.app.inject({ method: "GET", url: "/ready" })).statusCode === 503);
    const ready = await p.app.inject({ method: "GET", url: "/ready" });
    expect(ready.json<{ reason: string }>().reason).toContain(`projection ledger is stopped on the dead letter at position ${position}`);
    const listed = (await p.app.inject({ method: "GET", url: "/projections" })).json<ProjectionsBody>().items[0];
    expect(listed?.worker).toMatchObject({ state: "halted", haltedAt: position });
    expect(listed?.deadLetters).toMatchObject({ parked: 0, blocking: 1, items: [{ position, status: "blocking", attempts: 1, type: "JournalEntryPosted" }] });
    expect(listed?.deadLetters.items[0]?.error).toContain("does not balance in EUR");
    const metrics = (await p.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toContain('trueup_projection_dead_letters{projection="ledger",status="blocking"} 1');
    expect(metrics).toContain('trueup_projection_state{projection="ledger",state="halted"} 1');
    expect(metrics).toContain('trueup_projection_up{projection="ledger"} 0');

    const retried = await p.app.inject({ method: "POST", url: "/projections/ledger/retry" });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toEqual({ name: "ledger", retryRequested: 1, resolved: 0, stillFailing: 0 });
    // No fix was deployed: the worker tries once more and is held again.
    await waitUntil("the retry ran", async () => (await p.app.inject({ method: "GET", url: "/projections" })).json<ProjectionsBody>().items[0]?.deadLetters.items[0]?.attempts === 2);
    expect((await p.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(503);

    const unknown = await p.app.inject({ method: "POST", url: "/projections/nope/retry" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: "PROJECTION_NOT_FOUND" });
  });
});
