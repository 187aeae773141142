// Idempotency keys under duplicates and lost answers, through the HTTP API
// over a real PostgreSQL. Proves: a duplicate inside one group commit is only
// the later command's problem (its neighbours post); identical same-key
// requests, queued together or sent at once, post once and all agree with
// the one stored answer; a command whose answer was lost is recognised by its
// own events (any command, not only postings) and answers as it did, never
// with a refusal of its own success; a key never keeps a retryable answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LightMyRequestResponse } from "fastify";
import type { Accepted, Platform } from "./ledger-support.ts";
import { command, key, startPlatform } from "./ledger-support.ts";

const entry = (amount: string, extra: Record<string, unknown> = {}) => ({
  effectiveDate: "2026-03-10",
  description: "sale",
  lines: [
    { account: "1200", side: "debit", amount, currency: "EUR" },
    { account: "4000", side: "credit", amount, currency: "EUR" },
  ],
  ...extra,
});

/** Events in the log, less the ledger's period listings (written once, before a period's first posting). */
async function eventCount(p: Platform): Promise<bigint> {
  const result = await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events WHERE type <> 'PeriodListed'");
  return BigInt(result.rows[0]?.n ?? "0");
}

/** Status codes stored under keys, by key. */
async function storedStatus(p: Platform, keys: readonly string[]): Promise<Map<string, number | null>> {
  const rows = await p.db.pool.query<{ key: string; status_code: number | null }>("SELECT key, status_code FROM cmd_idempotency WHERE key = ANY($1::text[])", [keys]);
  return new Map(rows.rows.map((r) => [r.key, r.status_code]));
}

const codeOf = (r: LightMyRequestResponse): string | undefined => (r.statusCode >= 400 ? r.json<{ code: string }>().code : undefined);

describe("idempotency keys under duplicates, concurrency and lost answers", () => {
  let p: Platform;
  const ledgerId = "replays";
  beforeAll(async () => {
    p = await startPlatform();
    expect((await command(p.app, "/ledgers", { ledgerId, name: "Replays", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const account of [
      { code: "1200", name: "Receivables", type: "asset" },
      { code: "4000", name: "Sales", type: "revenue" },
    ]) {
      expect((await command(p.app, `/ledgers/${ledgerId}/accounts`, account)).statusCode).toBe(201);
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("30 unrelated postings queued with 2 that share an entry id: 31 post, the later duplicate alone is ENTRY_ALREADY_EXISTS, no key keeps a 409 CONCURRENCY_CONFLICT", async () => {
    const before = await eventCount(p);
    const unrelatedKeys = Array.from({ length: 30 }, () => key());
    const pairKeys = [key(), key()];
    const unrelated = unrelatedKeys.map((k) => command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry("1.00"), k));
    const pair = pairKeys.map((k, i) => command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry(`${i + 2}.00`, { entryId: "shared_id" }), k));
    const [unrelatedAnswers, pairAnswers] = await Promise.all([Promise.all(unrelated), Promise.all(pair)]);
    expect(unrelatedAnswers.map((r) => r.statusCode)).toEqual(unrelatedAnswers.map(() => 201));
    expect(pairAnswers.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    expect(pairAnswers.map(codeOf).filter((c) => c !== undefined)).toEqual(["ENTRY_ALREADY_EXISTS"]);
    expect(await eventCount(p)).toBe(before + 31n);
    const stored = await storedStatus(p, [...unrelatedKeys, ...pairKeys]);
    expect([...unrelatedKeys].map((k) => stored.get(k))).toEqual(unrelatedKeys.map(() => 201));
    expect(pairKeys.map((k) => stored.get(k)).sort()).toEqual([201, 409]);
  });

  it("identical same-key requests queued behind another posting post once; every answer is the stored one", async () => {
    const before = await eventCount(p);
    const k = key();
    const body = entry("3.33", { effectiveDate: "2026-03-11" });
    const other = command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry("4.44", { effectiveDate: "2026-03-11" }));
    const same = Array.from({ length: 4 }, () => command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k));
    const [otherAnswer, ...sameAnswers] = await Promise.all([other, ...same]);
    expect(otherAnswer.statusCode).toBe(201);
    expect(sameAnswers.map((r) => r.statusCode)).toEqual([201, 201, 201, 201]);
    const entryIds = new Set(sameAnswers.map((r) => r.json<Accepted>().entryId));
    expect(entryIds.size).toBe(1);
    expect(await eventCount(p)).toBe(before + 2n);
    expect((await storedStatus(p, [k])).get(k)).toBe(201);
  });

  it.each([6, 20])("one key sent %i times at once to close a period: every answer is 200, the period closes once, the stored answer is the 200", async (n) => {
    const period = n === 6 ? "2026-01" : "2026-02";
    const k = key();
    const before = await eventCount(p);
    const answers = await Promise.all(Array.from({ length: n }, () => command(p.app, `/ledgers/${ledgerId}/periods/${period}/close`, {}, k)));
    expect(answers.map((r) => `${r.statusCode} ${codeOf(r) ?? ""}`)).toEqual(answers.map(() => "200 "));
    const revisions = new Set(answers.map((r) => r.json<Accepted>().revision));
    expect(revisions.size).toBe(1);
    expect(await eventCount(p)).toBe(before + 1n);
    expect((await storedStatus(p, [k])).get(k)).toBe(200);
    const later = await command(p.app, `/ledgers/${ledgerId}/periods/${period}/close`, {}, k);
    expect(later.statusCode).toBe(200);
    expect(later.headers["idempotent-replayed"]).toBe("true");
  });

  it("one posting key sent 20 times at once with other postings: posts once, every answer agrees", async () => {
    const k = key();
    const before = await eventCount(p);
    const body = entry("5.55", { effectiveDate: "2026-03-12" });
    const others = Array.from({ length: 10 }, () => command(p.app, `/ledgers/${ledgerId}/journal-entries`, entry("1.00", { effectiveDate: "2026-03-12" })));
    const same = Array.from({ length: 20 }, () => command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k));
    const answers = await Promise.all([...others, ...same]);
    expect(answers.map((r) => r.statusCode)).toEqual(answers.map(() => 201));
    const sameBodies = answers.slice(10).map((r) => r.json<Accepted>());
    expect(new Set(sameBodies.map((b) => `${b.entryId ?? ""}@${b.revision ?? ""}@${b.position ?? ""}`)).size).toBe(1);
    expect(await eventCount(p)).toBe(before + 11n);
  });

  it.each([
    ["an account open", () => ({ url: `/ledgers/${ledgerId}/accounts`, body: { code: "5000", name: "Costs", type: "expense" }, status: 201 })],
    ["a ledger creation", () => ({ url: "/ledgers", body: { ledgerId: "lost_answer", name: "Lost", baseCurrency: "EUR" }, status: 201 })],
    ["a period close", () => ({ url: `/ledgers/${ledgerId}/periods/2025-12/close`, body: {}, status: 200 })],
  ])("%s whose answer was lost answers its own success again on retry, and stores that", async (_name, make) => {
    const { url, body, status } = make();
    const k = key();
    const first = await command(p.app, url, body, k);
    expect(first.statusCode, first.body).toBe(status);
    const before = await eventCount(p);
    // As if the process died between the append and recording the answer: the key is claimed, never answered.
    await p.db.pool.query("UPDATE cmd_idempotency SET status_code = NULL, response = NULL WHERE key = $1", [k]);
    const retry = await command(p.app, url, body, k);
    expect(retry.statusCode, retry.body).toBe(status);
    expect(retry.json<Accepted>()).toMatchObject({ revision: first.json<Accepted>().revision, position: first.json<Accepted>().position });
    expect(await eventCount(p)).toBe(before);
    expect((await storedStatus(p, [k])).get(k)).toBe(status);
  });

  it("a replayed answer says replayed in its body exactly when its header does", async () => {
    const k = key();
    const body = entry("6.66", { effectiveDate: "2026-03-13" });
    const first = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    expect(first.json<Accepted>().replayed).toBe(false);
    const again = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body, k);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json<Accepted>()).toEqual({ ...first.json<Accepted>(), replayed: true });
    const closeKey = key();
    const close = await command(p.app, `/ledgers/${ledgerId}/periods/2025-10/close`, {}, closeKey);
    const closeAgain = await command(p.app, `/ledgers/${ledgerId}/periods/2025-10/close`, {}, closeKey);
    expect([close.json<Accepted>().replayed, closeAgain.json<Accepted>().replayed, closeAgain.headers["idempotent-replayed"]]).toEqual([false, true, "true"]);
  });

  it("a retried command is recognised after its stream moved on (a reopen and other closes came between)", async () => {
    const k = key();
    const close = await command(p.app, `/ledgers/${ledgerId}/periods/2025-11/close`, {}, k);
    expect(close.statusCode).toBe(200);
    expect((await command(p.app, `/ledgers/${ledgerId}/periods/2025-11/reopen`, { reason: "late invoice" })).statusCode).toBe(200);
    await p.db.pool.query("UPDATE cmd_idempotency SET status_code = NULL, response = NULL WHERE key = $1", [k]);
    const before = await eventCount(p);
    const retry = await command(p.app, `/ledgers/${ledgerId}/periods/2025-11/close`, {}, k);
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.json<Accepted>().revision).toBe(close.json<Accepted>().revision);
    expect(await eventCount(p)).toBe(before);
  });

  it.each([
    ["missing", undefined, "IDEMPOTENCY_KEY_MISSING"],
    ["300 characters", "k".repeat(300), "IDEMPOTENCY_KEY_INVALID"],
    ["with a space", "two words", "IDEMPOTENCY_KEY_INVALID"],
  ])("a key that is %s gets its own code, in the headers", async (_name, idempotencyKey, code) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
    const response = await p.app.inject({ method: "POST", url: `/ledgers/${ledgerId}/periods/2025-09/close`, payload: {}, headers });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ code: string; in: string; path: string }>()).toMatchObject({ code, in: "headers", path: "/idempotency-key" });
  });

  it("ENTRY_ALREADY_EXISTS names the entry id the client sent", async () => {
    const body = entry("7.77", { entryId: "named_entry", effectiveDate: "2026-03-14" });
    expect((await command(p.app, `/ledgers/${ledgerId}/journal-entries`, body)).statusCode).toBe(201);
    // The same entry id in another period: another stream, so the store's id check finds it.
    const again = await command(p.app, `/ledgers/${ledgerId}/journal-entries`, { ...body, effectiveDate: "2026-04-14" });
    expect(again.statusCode).toBe(409);
    const problem = again.json<{ code: string; detail: string }>();
    expect(problem.code).toBe("ENTRY_ALREADY_EXISTS");
    expect(problem.detail).toContain("named_entry");
    expect(problem.detail).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});
