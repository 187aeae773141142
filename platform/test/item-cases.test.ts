// Proves, through the HTTP API over a real PostgreSQL (documents in its
// JSONB, no MONGO_URL), an open item's case file —
// GET /bank-accounts/{id}/items/{side}/{itemId}/case:
// - a run records its near misses: the item left open shows the closest
//   candidates (with their items) and why each failed, the run's answer
//   counts them, a dry run records none, a later run's replace them;
// - what holds the item now (its live match, or the exception that
//   resolved it) and the decisions that touched it, with actor and reason:
//   its match rejected, unmatched, its exception reassigned and resolved;
// - read with a decision's position (minPosition), the decision is in it;
// - hostile: an unknown item or account is 404, a bad side, a NUL or an
//   over-long id 400; the same key sent four times at once records the
//   run's near misses once; an outage after the near misses landed but
//   before the answer, retried with the same key, records them no second
//   time; the per-run limit on recorded items is named in the run's bounds.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exceptionIdOf, nearMissStream, reconStream } from "@trueup/contracts";
import { MatchCommandService, PostgresMatchItemReader, runReconciliation } from "@trueup/command-side";
import { StoreUnavailableError } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { ledgerProjection, reconciliationProjection } from "@trueup/projections";
import { withOverrides } from "../../test-support/event-store.ts";
import { command, key, query } from "./ledger-support.ts";
import { seedReconciliationBook, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "ic";
const ACCOUNT = "ic_bank";
// 1: INV-1 matches a1 by reference; 2: INV-2's amount is a2's, 17 days apart (a near miss); 3: 80.00 pairs with a3
// by amount and date (a suggestion, to reject); 4: 999.00 has no counterpart at all.
const CSV = ["Date,Amount,Reference", "2026-03-02,100.00,INV-1", "2026-03-03,250.00,INV-2", "2026-03-04,80.00,", "2026-03-06,999.00,"].join("\n") + "\n";
const INV_2 = "ref:INV-2#1";

interface Candidate { itemIds: string[]; score: number; failures: string[]; items: { itemId: string; amount: string }[] }
interface ItemCase {
  side: string;
  itemId: string;
  item: { itemId: string; amount: string; date: string | null };
  status: string;
  matchId: string | null;
  exceptionId: string | null;
  nearMisses: { runId: string; position: string; candidates: Candidate[] } | null;
  resolution: { resolution: string; reason: string | null; exceptionId: string } | null;
  history: { type: string; actor: string; reason: string | null; matchId: string | null; exceptionId: string | null; detail: string | null }[];
  historyDropped: number;
}
interface RunAnswer { runId: string; position: string; nearMisses: number; bounds: { bound: string; times: number; detail: string }[] }

describe("an item's case file through the API", () => {
  let p: ImportPlatform;
  let fault: ((stream: string) => "before" | "after" | undefined) | undefined;
  const decide = (url: string, body: unknown, actor: string, k: string = key()): Promise<LightMyRequestResponse> =>
    p.app.inject({ method: "POST", url, payload: body as object, headers: { "idempotency-key": k, "content-type": "application/json", "x-actor": actor } });
  const run = async (body: unknown = {}, k: string = key()): Promise<RunAnswer> => {
    const answer = await decide(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, body, "clerk:ana", k);
    expect(answer.statusCode, answer.body).toBe(201);
    return answer.json<RunAnswer>();
  };
  const itemCase = async (side: string, itemId: string, at: string | null = null): Promise<ItemCase> => {
    const response = await query(p.app, `/bank-accounts/${ACCOUNT}/items/${side}/${encodeURIComponent(itemId)}/case`, at);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<ItemCase>();
  };
  const recordedFor = async (runId: string): Promise<number> => {
    const events = await p.store.readStream(nearMissStream(ACCOUNT)).catch(() => []);
    return events.filter((e) => (e.data as { runId: string }).runId === runId).length;
  };
  let externalIds: string[] = [];

  beforeAll(async () => {
    p = await startImportPlatform({
      wrap: (store): EventStore =>
        withOverrides(store, {
          append: async (stream, events, options) => {
            const when = fault?.(stream);
            if (when === "before") throw new StoreUnavailableError("injected: the database went away before the write");
            const result = await store.append(stream, events, options);
            if (when === "after") throw new StoreUnavailableError("injected: the answer of a write that landed was lost");
            return result;
          },
        }),
    });
    await seedReconciliationBook(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, csv: CSV, sales: [
      { entryId: "a1", amount: "100.00", date: "2026-03-02", reference: "INV-1" },
      { entryId: "a2", amount: "250.00", date: "2026-03-20", reference: "OTHER-9" },
      { entryId: "a3", amount: "80.00", date: "2026-03-04", reference: null },
    ] });
    const unmatched = await query(p.app, `/bank-accounts/${ACCOUNT}/unmatched?side=external`);
    externalIds = unmatched.json<{ items: { itemId: string }[] }>().items.map((i) => i.itemId);
    expect(externalIds).toHaveLength(4);
  });
  afterAll(async () => {
    await p.close();
  });

  it("shows an open item's near misses with the candidates' items and reasons; a dry run records none", async () => {
    const dry = await run({ dryRun: true });
    expect(dry.nearMisses).toBe(0);
    expect(await recordedFor(dry.runId)).toBe(0);
    expect((await itemCase("external", INV_2)).nearMisses).toBeNull();

    const first = await run();
    // INV-2 and a2 (each the other's near miss) and the 999.00 line: three open items.
    expect(first.nearMisses).toBe(3);
    const open = await itemCase("external", INV_2, first.position);
    expect(open).toMatchObject({ side: "external", itemId: INV_2, item: { amount: "250.00", date: "2026-03-03" }, status: "open", matchId: null, exceptionId: null, history: [], historyDropped: 0 });
    expect(open.nearMisses?.runId).toBe(first.runId);
    const [best] = open.nearMisses?.candidates ?? [];
    expect(best).toMatchObject({ itemIds: ["a2:0"], items: [{ itemId: "a2:0", amount: "250.00" }] });
    expect(best?.failures.join("; ")).toMatch(/17 days/);
    expect((await itemCase("internal", "a2:0", first.position)).nearMisses?.candidates[0]?.itemIds).toEqual([INV_2]);
    const lonely = externalIds[3] ?? "";
    expect((await itemCase("external", lonely, first.position)).nearMisses).toMatchObject({ runId: first.runId, candidates: [] });
    // Matched by the run: its live match, and no near misses (it was never left open).
    const matched = await itemCase("external", "ref:INV-1#1", first.position);
    expect(matched).toMatchObject({ status: "confirmed", nearMisses: null, history: [] });
    expect(matched.matchId).toMatch(new RegExp(`^${ACCOUNT}:`));
  });

  it("tells the decisions that touched an item, with who and why, at the decision's position", async () => {
    const suggested = await itemCase("internal", "a3:0");
    expect(suggested.status).toBe("suggested");
    const rejected = await decide(`/matches/${suggested.matchId}/reject`, { reason: "another customer's payment" }, "clerk:bo");
    expect(rejected.statusCode, rejected.body).toBe(200);
    const afterReject = await itemCase("internal", "a3:0", rejected.json<{ position: string }>().position);
    expect(afterReject).toMatchObject({ status: "open", matchId: null, history: [{ type: "MatchRejected", actor: "clerk:bo", reason: "another customer's payment", matchId: suggested.matchId, exceptionId: null }] });

    const confirmed = (await itemCase("external", "ref:INV-1#1")).matchId;
    const unmatched = await decide(`/matches/${confirmed}/unmatch`, { reason: "paid by another customer" }, "clerk:cy");
    expect(unmatched.statusCode, unmatched.body).toBe(200);
    const reopened = await itemCase("internal", "a1:0", unmatched.json<{ position: string }>().position);
    expect(reopened).toMatchObject({ status: "open", history: [{ type: "MatchUnmatched", actor: "clerk:cy", reason: "paid by another customer", matchId: confirmed }] });

    // Aged (dated March, today is later): reassign INV-2's exception, ignore the lonely line's.
    const lonely = externalIds[3] ?? "";
    const aged = (itemId: string): string => exceptionIdOf({ bankAccountId: ACCOUNT, kind: "aged", side: "external", itemId });
    const reassigned = await decide(`/exceptions/${aged(INV_2)}/resolve`, { resolution: "reassign", assignee: "clerk:dee", reason: "ask the customer" }, "clerk:cy");
    expect(reassigned.statusCode, reassigned.body).toBe(200);
    const ignored = await decide(`/exceptions/${aged(lonely)}/resolve`, { resolution: "ignore", reason: "the bank reversed it" }, "clerk:dee");
    expect(ignored.statusCode, ignored.body).toBe(200);
    const handed = await itemCase("external", INV_2, reassigned.json<{ position: string }>().position);
    expect(handed.history).toEqual([expect.objectContaining({ type: "ExceptionReassigned", actor: "clerk:cy", reason: "ask the customer", exceptionId: aged(INV_2), detail: "clerk:dee" })]);
    const settled = await itemCase("external", lonely, ignored.json<{ position: string }>().position);
    expect(settled).toMatchObject({
      status: "resolved", matchId: null, exceptionId: aged(lonely),
      resolution: { resolution: "ignore", reason: "the bank reversed it", exceptionId: aged(lonely) },
      history: [{ type: "ItemResolved", actor: "clerk:dee", reason: "the bank reversed it", detail: "ignore" }],
    });
  });

  it("replaces an item's near misses with a later run's", async () => {
    const before = await itemCase("external", INV_2);
    const later = await run();
    const after = await itemCase("external", INV_2, later.position);
    expect(after.nearMisses?.runId).toBe(later.runId);
    expect(after.nearMisses?.runId).not.toBe(before.nearMisses?.runId);
    // The history stays: near misses are advice, not decisions.
    expect(after.history).toEqual(before.history);
  });

  it("refuses what names no item of the account: 404 for unknown ones, 400 for ids no item can have", async () => {
    const get = (path: string) => query(p.app, `/bank-accounts/${path}`);
    expect((await get(`${ACCOUNT}/items/external/${encodeURIComponent("ref:NOPE#1")}/case`)).json()).toMatchObject({ code: "MATCH_ITEM_NOT_FOUND", path: "/itemId" });
    expect((await get(`${ACCOUNT}/items/internal/zz:0/case`)).statusCode).toBe(404);
    expect((await get(`nobody/items/external/${encodeURIComponent(INV_2)}/case`)).json()).toMatchObject({ code: "BANK_ACCOUNT_NOT_FOUND" });
    const side = await get(`${ACCOUNT}/items/both/x/case`);
    expect(side.statusCode).toBe(400);
    expect(side.json()).toMatchObject({ code: "VALIDATION_FAILED", path: "/side" });
    // The longest id there can be, every character percent-encoded as 4 UTF-8 bytes, reaches the route (and names nothing).
    const longest = await get(`${ACCOUNT}/items/external/${encodeURIComponent("€#:𝄞".repeat(50))}/case`);
    expect(longest.json()).toMatchObject({ code: "MATCH_ITEM_NOT_FOUND" });
    for (const bad of ["a%00b", "x".repeat(201), encodeURIComponent("é".repeat(201))]) {
      const refused = await get(`${ACCOUNT}/items/external/${bad}/case`);
      expect(refused.statusCode, bad).toBe(400);
      expect(refused.json(), bad).toMatchObject({ code: "VALIDATION_FAILED", path: "/itemId" });
    }
  });

  it("records a run's near misses once when the same key arrives four times at once", async () => {
    const k = key();
    const answers = await Promise.all(Array.from({ length: 4 }, () => decide(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {}, "clerk:ana", k)));
    const ok = answers.filter((a) => a.statusCode === 201);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // The others wait for it or are told the key is in use; none runs a second time.
    for (const other of answers) expect([201, 409], other.body).toContain(other.statusCode);
    const runIds = new Set(ok.map((a) => a.json<RunAnswer>().runId));
    expect(runIds.size).toBe(1);
    const [runId] = [...runIds];
    expect(await recordedFor(runId ?? "")).toBe(1);
  });

  it("records them no second time when the answer of their write was lost and the run is retried with its key", async () => {
    const k = key();
    fault = (stream) => (stream.startsWith("nearmisses-") ? "after" : undefined);
    const lost = await decide(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {}, "clerk:ana", k);
    fault = undefined;
    expect(lost.statusCode, lost.body).toBe(503);
    const retried = await run({}, k);
    expect(retried.nearMisses).toBeGreaterThan(0);
    expect(await recordedFor(retried.runId)).toBe(1);
    expect((await itemCase("external", INV_2, retried.position)).nearMisses?.runId).toBe(retried.runId);
  });

  it("names the limit on recorded near misses in the run's bounds", async () => {
    const answer = await runReconciliation(
      {
        store: p.store,
        service: new MatchCommandService({ store: p.store }),
        items: new PostgresMatchItemReader(p.db.pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName }),
        limits: { nearMissItemsMax: 1 },
      },
      { commandId: `direct-${key()}`, actor: "test", correlationId: "c", occurredAt: new Date() },
      ACCOUNT,
      { dryRun: false, from: null, to: null },
    );
    expect(answer.nearMisses).toBe(1);
    const bound = answer.bounds.find((b) => b.bound === "nearMissItemsMax");
    expect(bound?.times).toBeGreaterThan(0);
    expect(bound?.detail).toMatch(/near misses recorded for 1 of/);
    const recorded = await query(p.app, `/reconciliation-runs/${answer.runId}`, answer.position ?? null);
    expect(recorded.json<{ bounds: { bound: string }[] }>().bounds.map((b) => b.bound)).toContain("nearMissItemsMax");
  });

  it("keeps near misses apart from the decisions: the recon stream holds none", async () => {
    const recon = await p.store.readStream(reconStream(ACCOUNT));
    expect(recon.filter((e) => e.type === "NearMissesRecorded")).toEqual([]);
    expect(await command(p.app, `/bank-accounts/${ACCOUNT}/reconciliation-runs`, { dryRun: "yes" })).toMatchObject({ statusCode: 400 });
  });
});
