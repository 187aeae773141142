// Proves that each real camt sample (test-support/fixtures/statements/camt)
// imports through the HTTP API: its deliberate inconsistencies (balances in
// SEK/JPY on an EUR account, lines outside the stated period, CHF
// transactions in an SEK batch) are reported as failed checks and reject
// the statement, `?acceptFailedChecks=true` records it with those checks,
// and importing it again is a no-op (`newLines: 0`, every line known).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { importFile, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../test-support/fixtures/statements/camt");

const SAMPLES = [
  { file: "camt053.v2.minimal.xml", account: { iban: "NL26VAYB8060476890" }, currency: "EUR", lines: 1, failed: ["currency", "period"] },
  { file: "camt053.v8.xml", account: { accountNumber: "NL26VAYB8060476890" }, currency: "EUR", lines: 1, failed: ["currency", "period"] },
  { file: "camt054.v8.xml", account: { iban: "CH2801234000123456789" }, currency: "SEK", lines: 3, failed: ["currency"] },
] as const;

interface ImportAnswer {
  statementIds: string[];
  lineCount: number;
  newLines: number;
  knownLines: number;
  checks: { check: string; status: string }[];
}

describe("the real camt samples through the HTTP API", () => {
  let platform: ImportPlatform;
  beforeAll(async () => {
    platform = await startImportPlatform();
  });
  afterAll(async () => {
    await platform.close();
  });

  it.each(SAMPLES)("$file: rejected for its failed checks, accepted with them on request, a no-op when imported again", async ({ file, account, currency, lines, failed }) => {
    const id = file.replace(/[^a-z0-9]/gi, "").slice(0, 24);
    await setupBankAccount(platform.app, { ledgerId: `l${id}`, bankAccountId: `b${id}`, currency, ...account });
    const body = readFileSync(path.join(FIXTURES, file));
    const url = `/bank-accounts/b${id}/statements`;

    const rejected = await importFile(platform.app, url, body);
    expect(rejected.statusCode, rejected.body).toBe(422);
    const problem = rejected.json<{ code: string; checks: { check: string; status: string }[] }>();
    expect(problem.code).toBe("STATEMENT_CURRENCY_MISMATCH");
    expect(problem.checks.filter((c) => c.status === "failed").map((c) => c.check)).toEqual(failed);

    const accepted = await importFile(platform.app, url, body, { query: { acceptFailedChecks: "true" } });
    expect(accepted.statusCode, accepted.body).toBe(201);
    const first = accepted.json<ImportAnswer>();
    expect(first).toMatchObject({ lineCount: lines, newLines: lines, knownLines: 0 });
    expect(first.checks.filter((c) => c.status === "failed").map((c) => c.check)).toEqual(failed);

    const again = await importFile(platform.app, url, body, { query: { acceptFailedChecks: "true" } });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json<ImportAnswer>()).toMatchObject({ statementIds: first.statementIds, lineCount: lines, newLines: 0, knownLines: lines });
  });
});
