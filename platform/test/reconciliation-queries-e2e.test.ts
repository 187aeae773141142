// The reconciliation queries behind a real import: a statement file posted
// through the HTTP API (the import pipeline, its events, the platform's own
// projection worker), then read back through the queries with the import's
// position as minPosition. What the import answered is what the queries
// show: the statement, its checks (failed ones accepted), every recorded
// line once; a re-import of the same file changes no line a reader sees.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Platform } from "./ledger-support.ts";
import { command, key, query, startPlatform } from "./ledger-support.ts";

const FIXTURE = new URL("../../test-support/fixtures/statements/mt940/cmxl-mt940.sta", import.meta.url);

interface ImportAnswer { statementIds: string[]; lineCount: number; newLines: number; knownLines: number; position: string | null; checks: { statementId: string; status: string; code: string | null }[] }
interface Page { items: { lineId: string; statementId: string; amount: string; side: string; raw: string }[]; nextCursor: string | null }

describe("reconciliation queries after a real import", () => {
  let p: Platform;
  let first: ImportAnswer;
  const upload = (body: Buffer, idempotencyKey = key()) =>
    p.app.inject({ method: "POST", url: "/ledgers/E2E/statements?format=mt940&acceptFailedChecks=true", payload: body, headers: { "idempotency-key": idempotencyKey, "content-type": "application/octet-stream" } });
  const allLines = async (bankAccountId: string, minPosition: string | null): Promise<Page["items"]> => {
    const items: Page["items"] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const response = await query(p.app, `/bank-accounts/${bankAccountId}/lines?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`, minPosition);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json<Page>();
      items.push(...body.items);
      cursor = body.nextCursor;
      if (cursor === null) break;
    }
    return items;
  };

  beforeAll(async () => {
    p = await startPlatform();
    expect((await command(p.app, "/ledgers", { ledgerId: "E2E", name: "E2E", baseCurrency: "EUR" })).statusCode).toBe(201);
    expect((await command(p.app, "/ledgers/E2E/accounts", { code: "1000", name: "Bank", type: "asset" })).statusCode).toBe(201);
  });
  afterAll(async () => {
    await p.close();
  });

  it("shows every line the import recorded, its statements and checks, and nothing more after a re-import", async () => {
    const file = await readFile(FIXTURE);
    // Every account the file names (a multi-statement file, routed by account number). It is an archive in DEM:
    // registered in EUR, its statements fail the currency check, accepted.
    const accountNumbers = [...new Set([...file.toString("latin1").matchAll(/:25:([^\r\n]+)/g)].map((m) => (m[1] ?? "").trim()))];
    expect(accountNumbers.length).toBeGreaterThan(0);
    for (const [i, accountNumber] of accountNumbers.entries()) {
      const registered = await command(p.app, "/ledgers/E2E/bank-accounts", { bankAccountId: `e2e${i}`, kind: "bank", name: `E2E bank ${i}`, accountNumber, currency: "EUR", ledgerAccount: "1000" });
      expect(registered.statusCode, registered.body).toBe(201);
    }
    const ids = accountNumbers.map((_, i) => `e2e${i}`);
    const everyLine = async (minPosition: string | null): Promise<Page["items"]> => (await Promise.all(ids.map((id) => allLines(id, minPosition)))).flat();

    const response = await upload(file);
    expect(response.statusCode, response.body).toBe(201);
    first = response.json<ImportAnswer>();
    expect(first.newLines).toBeGreaterThan(0);

    const lines = await everyLine(first.position);
    expect(lines).toHaveLength(first.newLines);
    expect(new Set(lines.map((l) => l.lineId)).size).toBe(first.newLines);
    expect(lines.every((l) => l.raw.includes(":61:"))).toBe(true);
    const accounts = await Promise.all(ids.map(async (id) => (await query(p.app, `/bank-accounts/${id}`)).json<{ statementCount: number; lineCount: number }>()));
    expect(accounts.reduce((n, a) => n + a.statementCount, 0)).toBe(first.statementIds.length);
    expect(accounts.reduce((n, a) => n + a.lineCount, 0)).toBe(first.newLines);
    for (const statementId of first.statementIds) {
      const statement = await query(p.app, `/statements/${statementId}`);
      expect(statement.statusCode, statement.body).toBe(200);
      const failed = first.checks.filter((c) => c.statementId === statementId && c.status === "failed").map((c) => c.code);
      expect(statement.json<{ failedChecks: { code: string }[] }>().failedChecks.map((c) => c.code)).toEqual(failed);
    }

    const again = await upload(file);
    expect(again.statusCode, again.body).toBe(201);
    const second = again.json<ImportAnswer>();
    // Whatever the import decides the second time (its own tests hold it to newLines 0), a reader sees each bank line once:
    // a line id the account already shows keeps its first row.
    expect(second.newLines + second.knownLines).toBe(first.newLines);
    expect(await everyLine(second.position ?? first.position)).toEqual(lines);
    const after = await Promise.all(ids.map(async (id) => (await query(p.app, `/bank-accounts/${id}`)).json<{ lineCount: number }>()));
    expect(after.reduce((n, a) => n + a.lineCount, 0)).toBe(first.newLines);
  });
});
