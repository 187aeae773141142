// Proves, through the HTTP API over a real PostgreSQL, the reconciliation
// queries after a run: the recorded run with its counts; a bank account's
// matches by status, paged without gaps or repeats; one match with its
// items, explanation and history (who decided and why); the open items of
// either side and a line's status; the summary per side. Each decision (a
// reject, an unmatch) shows at once with the position it answered. And the
// hostile side: unknown ids, a cursor of another side or endpoint, a page
// too large, an unknown status, a dry run (which records no run).
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTO_CONFIRMED_REASON } from "@trueup/projections";
import { command, key, query } from "./ledger-support.ts";
import { seedReconciliationBook, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "mq";
const ACCOUNT = "mq_bank";
const CSV = ["Date,Amount,Reference", "2026-03-02,100.00,INV-1", "2026-03-03,250.00,INV-2", "2026-03-04,80.00,", "2026-03-05,999.00,"].join("\n") + "\n";

interface Match {
  matchId: string;
  status: string;
  kind: string;
  score: number;
  criteria: { criterion: string; reason: string }[];
  externalIds: string[];
  internalIds: string[];
  decided: { by: string; reason: string | null } | null;
}
interface Page<T> { items: T[]; nextCursor: string | null }
interface Item { side: string; itemId: string; amount: string; amountMinor: string; date: string | null }

describe("reconciliation queries after a run, through the API", () => {
  let p: ImportPlatform;
  let runId = "";
  let position = "";
  const get = async <T>(url: string, at: string | null = position): Promise<T> => {
    const response = await query(p.app, url, at);
    expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    return response.json<T>();
  };
  const decide = async (url: string, body: unknown, actor: string): Promise<LightMyRequestResponse> =>
    p.app.inject({ method: "POST", url, payload: body as object, headers: { "idempotency-key": key(), "content-type": "application/json", "x-actor": actor } });

  beforeAll(async () => {
    p = await startImportPlatform();
    await seedReconciliationBook(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, csv: CSV, sales: [
      { entryId: "a1", amount: "100.00", date: "2026-03-02", reference: "INV-1" },
      { entryId: "a2", amount: "250.00", date: "2026-03-03", reference: "INV-2" },
      { entryId: "a3", amount: "80.00", date: "2026-03-04", reference: null },
    ] });
    const dry = await command(p.app, `/bank-accounts/${ACCOUNT}/reconciliation-runs`, { dryRun: true });
    expect(dry.statusCode, dry.body).toBe(201);
    expect((await query(p.app, `/reconciliation-runs/${dry.json<{ runId: string }>().runId}`)).json()).toMatchObject({ code: "RECONCILIATION_RUN_NOT_FOUND" });
    const run = await decide(`/bank-accounts/${ACCOUNT}/reconciliation-runs`, {}, "clerk:ana");
    expect(run.statusCode, run.body).toBe(201);
    ({ runId, position } = run.json<{ runId: string; position: string }>());
  });
  afterAll(async () => {
    await p.close();
  });

  it("shows the recorded run with its counts, and its matches by kind and status", async () => {
    expect(await get(`/reconciliation-runs/${runId}`)).toMatchObject({
      runId, bankAccountId: ACCOUNT, window: { from: null, to: null }, items: { external: 4, internal: 3 },
      proposals: { "1:1": 3, "1:N": 0, "N:1": 0, "N:M": 0 }, autoConfirmed: 2, suggested: 1, conflicts: 0, bounds: [], actor: "clerk:ana",
      now: [{ kind: "1:1", status: "confirmed", count: 2 }, { kind: "1:1", status: "suggested", count: 1 }],
    });
  });

  it("lists matches by status, and pages through all of them without gaps or repeats", async () => {
    expect((await get<Page<Match>>(`/bank-accounts/${ACCOUNT}/matches?status=confirmed`)).items).toHaveLength(2);
    expect((await get<Page<Match>>(`/bank-accounts/${ACCOUNT}/matches?status=suggested`)).items).toHaveLength(1);
    expect((await get<Page<Match>>(`/bank-accounts/${ACCOUNT}/matches?status=rejected`)).items).toHaveLength(0);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<Match> = await get(`/bank-accounts/${ACCOUNT}/matches?limit=1${cursor === null ? "" : `&cursor=${cursor}`}`);
      seen.push(...page.items.map((m) => m.matchId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toHaveLength(3);
    expect([...seen].sort()).toEqual(seen);
  });

  it("reads one match with its items, explanation and history", async () => {
    const [confirmed] = (await get<Page<Match>>(`/bank-accounts/${ACCOUNT}/matches?status=confirmed`)).items;
    const match = await get<Match & { items: Item[]; history: { type: string; actor: string; automatic: boolean }[] }>(`/matches/${confirmed?.matchId ?? ""}`);
    expect(match).toMatchObject({ status: "confirmed", kind: "1:1", automatic: true, differenceMinor: "0", writeOff: null });
    expect(match.criteria.map((c) => c.criterion)).toContain("reference");
    expect(match.items.map((i) => i.side)).toEqual(["external", "internal"]);
    expect(match.items[0]?.amount).toBe(match.items[1]?.amount);
    // Confirmed by the run with its proposal: one event, one entry, whose reason says so.
    expect(match.history).toEqual([expect.objectContaining({ type: "MatchProposed", actor: "clerk:ana", automatic: true, reason: AUTO_CONFIRMED_REASON })]);
  });

  it("lists open items per side, a line's status, and the summary; a rejection and an unmatch show at once", async () => {
    expect((await get<Page<Item>>(`/bank-accounts/${ACCOUNT}/unmatched?side=external`)).items.map((i) => i.amount)).toEqual(["999.00"]);
    expect((await get<Page<Item>>(`/bank-accounts/${ACCOUNT}/unmatched?side=internal`)).items).toEqual([]);
    const statuses = (await get<Page<{ status: string; amount: string }>>(`/bank-accounts/${ACCOUNT}/lines`)).items.map((l) => [l.amount, l.status]);
    expect(statuses).toEqual([["100.00", "matched"], ["250.00", "matched"], ["80.00", "suggested"], ["999.00", "unmatched"]]);
    expect((await get<Page<unknown>>(`/bank-accounts/${ACCOUNT}/lines?status=suggested`)).items).toHaveLength(1);
    expect(await get(`/bank-accounts/${ACCOUNT}/summary?asOf=2026-03-31`)).toEqual({
      bankAccountId: ACCOUNT, currency: "EUR", asOf: "2026-03-31",
      external: { total: 4, matched: 2, suggested: 1, resolved: 0, unmatched: 1, matchedPercent: "50.00", settledPercent: "50.00", unmatchedIn: "999.00", unmatchedOut: "0.00", oldestUnmatchedDate: "2026-03-05", oldestUnmatchedAgeDays: 26 },
      internal: { total: 3, matched: 2, suggested: 1, resolved: 0, unmatched: 0, matchedPercent: "66.66", settledPercent: "66.66", unmatchedIn: "0.00", unmatchedOut: "0.00", oldestUnmatchedDate: null, oldestUnmatchedAgeDays: null },
    });

    const [suggestion] = (await get<Page<Match>>(`/bank-accounts/${ACCOUNT}/matches?status=suggested`)).items;
    const rejected = await decide(`/matches/${suggestion?.matchId ?? ""}/reject`, { reason: "another customer's payment" }, "clerk:bo");
    expect(rejected.statusCode, rejected.body).toBe(200);
    const afterReject = rejected.json<{ position: string }>().position;
    expect(await get(`/matches/${suggestion?.matchId ?? ""}`, afterReject)).toMatchObject({ status: "rejected", decided: { by: "clerk:bo", reason: "another customer's payment" } });
    const external = await get<Page<Item>>(`/bank-accounts/${ACCOUNT}/unmatched?side=external&limit=1`, afterReject);
    expect(external.items.map((i) => i.amount)).toEqual(["80.00"]);
    const next = await get<Page<Item>>(`/bank-accounts/${ACCOUNT}/unmatched?side=external&limit=1&cursor=${external.nextCursor ?? ""}`, afterReject);
    expect(next.items.map((i) => i.amount)).toEqual(["999.00"]);
    expect((await get<Page<Item>>(`/bank-accounts/${ACCOUNT}/unmatched?side=internal`, afterReject)).items).toMatchObject([{ side: "internal", itemId: "a3:0", amount: "80.00", amountMinor: "8000", date: "2026-03-04" }]);

    const [confirmed] = (await get<Page<Match>>(`/bank-accounts/${ACCOUNT}/matches?status=confirmed`, afterReject)).items;
    const unmatched = await decide(`/matches/${confirmed?.matchId ?? ""}/unmatch`, { reason: "paid twice, refunded" }, "clerk:bo");
    expect(unmatched.statusCode, unmatched.body).toBe(200);
    const afterUnmatch = unmatched.json<{ position: string }>().position;
    const summary = await get<{ external: { unmatched: number; matched: number }; internal: { unmatched: number } }>(`/bank-accounts/${ACCOUNT}/summary?asOf=2026-03-31`, afterUnmatch);
    expect(summary).toMatchObject({ external: { matched: 1, unmatched: 3 }, internal: { unmatched: 2 } });
    const history = (await get<{ history: { type: string; reason: string | null }[] }>(`/matches/${confirmed?.matchId ?? ""}`, afterUnmatch)).history;
    expect(history.map((h) => h.type)).toEqual(["MatchProposed", "MatchUnmatched"]);
    expect(history[1]?.reason).toBe("paid twice, refunded");
  });

  it("refuses what it cannot answer, with a stable code and the offending parameter", async () => {
    const problem = async (url: string) => {
      const response = await query(p.app, url);
      return { status: response.statusCode, ...response.json<{ code: string; path?: string }>() };
    };
    expect(await problem(`/matches/${ACCOUNT}:nope`)).toMatchObject({ status: 404, code: "MATCH_NOT_FOUND" });
    expect(await problem(`/matches/${encodeURIComponent("a\u0000b")}`)).toMatchObject({ status: 400, code: "VALIDATION_FAILED" });
    expect(await problem("/reconciliation-runs/run-never")).toMatchObject({ status: 404, code: "RECONCILIATION_RUN_NOT_FOUND" });
    expect(await problem("/bank-accounts/nobody/summary")).toMatchObject({ status: 404, code: "BANK_ACCOUNT_NOT_FOUND" });
    expect(await problem("/bank-accounts/nobody/unmatched?side=external")).toMatchObject({ status: 404, code: "BANK_ACCOUNT_NOT_FOUND" });
    expect(await problem(`/bank-accounts/${ACCOUNT}/unmatched`)).toMatchObject({ status: 400, code: "VALIDATION_FAILED", path: "/side" });
    expect(await problem(`/bank-accounts/${ACCOUNT}/unmatched?side=both`)).toMatchObject({ status: 400, code: "VALIDATION_FAILED", path: "/side" });
    expect(await problem(`/bank-accounts/${ACCOUNT}/unmatched?side=external&from=2026-03-09&to=2026-03-01`)).toMatchObject({ status: 400, path: "/from" });
    expect(await problem(`/bank-accounts/${ACCOUNT}/matches?status=maybe`)).toMatchObject({ status: 400, path: "/status" });
    expect(await problem(`/bank-accounts/${ACCOUNT}/matches?limit=501`)).toMatchObject({ status: 400, path: "/limit" });
    expect(await problem(`/bank-accounts/${ACCOUNT}/summary?asOf=2026-02-30`)).toMatchObject({ status: 400, path: "/asOf" });
    const external = await get<Page<Item>>(`/bank-accounts/${ACCOUNT}/unmatched?side=external&limit=1`, null);
    expect(await problem(`/bank-accounts/${ACCOUNT}/unmatched?side=internal&cursor=${external.nextCursor ?? ""}`)).toMatchObject({ status: 400, path: "/cursor" });
    const matches = await get<Page<Match>>(`/bank-accounts/${ACCOUNT}/matches?limit=1`, null);
    expect(await problem(`/bank-accounts/${ACCOUNT}/unmatched?side=external&cursor=${matches.nextCursor ?? ""}`)).toMatchObject({ status: 400, path: "/cursor" });
    expect(await problem(`/bank-accounts/${ACCOUNT}/matches?cursor=${"A".repeat(40)}`)).toMatchObject({ status: 400, path: "/cursor" });
  });
});
