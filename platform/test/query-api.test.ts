// The query API as a new user meets it, through app.inject() over a real
// PostgreSQL: every query route refuses what it does not understand with a
// 4xx that names the parameter and says where it is (an unknown parameter,
// an unknown currency, a cursor it never returned, a page size beyond the
// limit), an unknown ledger or account is a 404 rather than an empty 200,
// and cursor paging over several pages returns every row exactly once, in
// order, at the limit and below it. Every problem answered here must be one
// the OpenAPI document lists for that route and status.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUERY_LIMITS } from "@trueup/query-side";
import type { LightMyRequestResponse } from "fastify";
import type { Platform } from "./ledger-support.ts";
import { command, query, startPlatform } from "./ledger-support.ts";

interface ProblemBody {
  status: number;
  code: string;
  detail: string;
  in?: string;
  path?: string;
}

const LEDGER = "qa";
const ACCOUNT_CODES = ["1000", "1100", "1200", "1300", "1400", "1500", "1600", "4000"];
const ENTRY_COUNT = 11;

/** Every query route of a ledger, with a valid request for each. */
const ROUTES = [
  `/ledgers/${LEDGER}/accounts`,
  `/ledgers/${LEDGER}/accounts/1000`,
  `/ledgers/${LEDGER}/accounts/1000/balance`,
  `/ledgers/${LEDGER}/accounts/1000/statement`,
  `/ledgers/${LEDGER}/journal-entries`,
  `/ledgers/${LEDGER}/trial-balance`,
  `/ledgers/${LEDGER}/export.journal`,
];

describe("query API: refusals that name what is wrong, and paging at the limits", () => {
  let p: Platform;
  let last: string | null = null;
  const problemsSeen: { template: string; status: number; code: string }[] = [];

  /** A query, remembering the problem it answered (if any) under its route's template for the last test. */
  async function ask(url: string, minPosition?: string | null): Promise<LightMyRequestResponse> {
    const response = await query(p.app, url, minPosition);
    if (response.statusCode >= 400) {
      const template = (url.split("?")[0] ?? url).replace(/^\/ledgers\/[^/]+/, "/ledgers/{ledgerId}").replace(/\/accounts\/[^/]+/, "/accounts/{code}");
      problemsSeen.push({ template, status: response.statusCode, code: response.json<ProblemBody>().code });
    }
    return response;
  }

  beforeAll(async () => {
    p = await startPlatform();
    expect((await command(p.app, "/ledgers", { ledgerId: LEDGER, name: "Query books", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const code of ACCOUNT_CODES) {
      const response = await command(p.app, `/ledgers/${LEDGER}/accounts`, { code, name: `Account ${code}`, type: code === "4000" ? "revenue" : "asset" });
      expect(response.statusCode, response.body).toBe(201);
    }
    for (let i = 0; i < ENTRY_COUNT; i++) {
      const response = await command(p.app, `/ledgers/${LEDGER}/journal-entries`, {
        entryId: `qa_${String(i).padStart(2, "0")}`,
        // Several entries share a day: the cursor must order within a day too.
        effectiveDate: `2026-01-${String(10 + Math.floor(i / 3)).padStart(2, "0")}`,
        description: `sale ${i}`,
        externalReference: `INV${i}`,
        lines: [
          { account: "1000", side: "debit", amount: `${i + 1}.00`, currency: "EUR" },
          { account: "4000", side: "credit", amount: `${i + 1}.00`, currency: "EUR" },
        ],
      });
      expect(response.statusCode, response.body).toBe(201);
      last = response.json<{ position: string | null }>().position;
    }
    expect((await ask(`/ledgers/${LEDGER}/trial-balance`, last)).statusCode).toBe(200);
  });
  afterAll(async () => {
    await p.close();
  });

  it("every route answers a valid request", async () => {
    for (const url of ROUTES) expect((await ask(url)).statusCode, url).toBe(200);
  });

  it("an unknown currency in a statement query is a 400 CURRENCY_UNKNOWN at the currency parameter, not a 500", async () => {
    for (const currency of ["XYZ", "eur", "EURO", ""]) {
      const response = await ask(`/ledgers/${LEDGER}/accounts/1000/statement?currency=${currency}`);
      expect(response.statusCode, currency).toBe(400);
      expect(response.json<ProblemBody>()).toMatchObject({ code: "CURRENCY_UNKNOWN", in: "querystring", path: "/currency" });
    }
    expect((await ask(`/ledgers/${LEDGER}/accounts/1000/statement?currency=EUR`)).statusCode).toBe(200);
  });

  it("every route refuses a parameter it does not know, naming it", async () => {
    for (const url of ROUTES) {
      const response = await ask(`${url}?externalReference=INV1`);
      expect(response.statusCode, url).toBe(400);
      const body = response.json<ProblemBody>();
      expect(body, url).toMatchObject({ code: "VALIDATION_FAILED", in: "querystring", path: "/externalReference" });
      expect(body.detail, url).toContain("externalReference");
    }
  });

  it("an unknown ledger is a 404 LEDGER_NOT_FOUND on every route", async () => {
    for (const url of ROUTES) {
      const response = await ask(url.replace(`/ledgers/${LEDGER}/`, "/ledgers/nobody/"));
      expect(response.statusCode, url).toBe(404);
      expect(response.json<ProblemBody>().code, url).toBe("LEDGER_NOT_FOUND");
    }
  });

  it("an unknown account is a 404 ACCOUNT_NOT_FOUND, also as the entries' account filter", async () => {
    for (const url of [`/ledgers/${LEDGER}/accounts/9999`, `/ledgers/${LEDGER}/accounts/9999/balance`, `/ledgers/${LEDGER}/accounts/9999/statement`, `/ledgers/${LEDGER}/journal-entries?account=9999`]) {
      const response = await ask(url);
      expect(response.statusCode, url).toBe(404);
      expect(response.json<ProblemBody>().code, url).toBe("ACCOUNT_NOT_FOUND");
    }
    // A known account without entries is an empty page, not a 404.
    const quiet = await ask(`/ledgers/${LEDGER}/journal-entries?account=1500`);
    expect(quiet.statusCode).toBe(200);
    expect(quiet.json<{ items: unknown[] }>().items).toEqual([]);
  });

  it("a cursor this endpoint did not return is a 400 in the querystring at /cursor", async () => {
    const foreign = Buffer.from(JSON.stringify(["1000"])).toString("base64url"); // an accounts cursor
    for (const url of [`/ledgers/${LEDGER}/accounts`, `/ledgers/${LEDGER}/journal-entries`, `/ledgers/${LEDGER}/accounts/1000/statement`]) {
      for (const cursor of ["garbage", foreign, "W1tdXQ"]) {
        if (cursor === foreign && url.endsWith("/accounts")) continue;
        const response = await ask(`${url}?cursor=${cursor}`);
        expect(response.statusCode, `${url} ${cursor}`).toBe(400);
        expect(response.json<ProblemBody>(), `${url} ${cursor}`).toMatchObject({ code: "VALIDATION_FAILED", in: "querystring", path: "/cursor" });
      }
    }
  });

  it("accepts the largest page size and refuses one above it, naming the limit", async () => {
    const max = QUERY_LIMITS.pageSizeMax;
    for (const url of [`/ledgers/${LEDGER}/accounts`, `/ledgers/${LEDGER}/journal-entries`, `/ledgers/${LEDGER}/accounts/1000/statement`]) {
      const atMax = await ask(`${url}?limit=${max}`);
      expect(atMax.statusCode, url).toBe(200);
      expect(atMax.json<{ nextCursor: string | null }>().nextCursor, url).toBeNull();
      for (const bad of [String(max + 1), "0", "-1", "1.5", "ten"]) {
        const response = await ask(`${url}?limit=${bad}`);
        expect(response.statusCode, `${url} ${bad}`).toBe(400);
        const body = response.json<ProblemBody>();
        expect(body, `${url} ${bad}`).toMatchObject({ code: "VALIDATION_FAILED", in: "querystring", path: "/limit" });
        expect(body.detail, `${url} ${bad}`).toContain(String(max));
      }
    }
  });

  interface PageBody {
    items: { code: string; entryId: string }[];
    lines: { entryId: string; runningBalance: string }[];
    nextCursor: string | null;
  }

  /** Follows nextCursor to the end, page size `limit`; returns every page's keys. */
  async function allPages(url: string, limit: number, keysOf: (body: PageBody) => string[]): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const separator = url.includes("?") ? "&" : "?";
      const response = await ask(`${url}${separator}limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json<PageBody>();
      pages.push(keysOf(body));
      cursor = body.nextCursor;
      expect(pages.length).toBeLessThanOrEqual(100);
    } while (cursor !== null);
    return pages;
  }

  it("cursor paging over several pages returns every row once, in order", async () => {
    for (const limit of [1, 2, 3, 4]) {
      const accounts = await allPages(`/ledgers/${LEDGER}/accounts`, limit, (b) => b.items.map((i) => i.code));
      expect(accounts.length).toBeGreaterThan(1);
      expect(accounts.flat()).toEqual(ACCOUNT_CODES);
      expect(accounts.every((page) => page.length <= limit)).toBe(true);

      const entries = await allPages(`/ledgers/${LEDGER}/journal-entries`, limit, (b) => b.items.map((i) => i.entryId));
      expect(entries.flat()).toEqual(Array.from({ length: ENTRY_COUNT }, (_, i) => `qa_${String(i).padStart(2, "0")}`));

      const lines = await allPages(`/ledgers/${LEDGER}/accounts/1000/statement`, limit, (b) =>
        b.lines.map((l) => `${l.entryId}=${l.runningBalance}`),
      );
      // Running balances carry across pages: 1, 1+2, 1+2+3, …
      expect(lines.flat()).toEqual(Array.from({ length: ENTRY_COUNT }, (_, i) => `qa_${String(i).padStart(2, "0")}=${((i + 1) * (i + 2)) / 2}.00`));
    }
  });

  it("answered only problems the OpenAPI document lists for the route and status", async () => {
    const document = (await p.app.inject({ method: "GET", url: "/openapi.json" })).json<{
      paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, { schema: { properties: { code: { enum?: string[] } } } }> }> } }>;
    }>();
    expect(problemsSeen.length).toBeGreaterThan(40);
    const undocumented = problemsSeen.filter(({ template, status, code }) => {
      const listed = document.paths[template]?.get?.responses[String(status)]?.content?.["application/problem+json"]?.schema.properties.code.enum ?? [];
      return !listed.includes(code);
    });
    expect(undocumented).toEqual([]);
  });
});
