// The statement import through the HTTP API over a real PostgreSQL: a file
// in, its statements and new lines in the log, or a problem and nothing in
// the log. Proves: the answer's shape and figures; a re-import (new key)
// writes nothing and says newLines 0; an overlapping statement records only
// its new lines; the same key replays the stored answer, and with another
// file is a 409; every statement check failing rejects the file with its
// code, location and expected/actual figures and writes nothing, and
// acceptFailedChecks records the failures on the statement; the body is never
// parsed (a file sent as application/json is still the file); the query is
// strict; an unknown bank account is a 404.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReconciliationEvent } from "@trueup/contracts";
import type { ImportPlatform } from "./statement-import-support.ts";
import { IBAN, IBAN_2, countByType, importEvents, importFile, mt940Message, sampleLines, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import { key } from "./ledger-support.ts";

interface Answer {
  statementIds: string[];
  format: string;
  lineCount: number;
  newLines: number;
  knownLines: number;
  totals: { currency: string; credits: { count: number; amount: string }; debits: { count: number; amount: string } }[];
  checks: { check: string; status: string; code: string | null; statementId: string }[];
  statements: { statementId: string; bankAccountId: string; section: number; lineCount: number; newLines: number; knownLines: number; reimport: boolean; checks: { check: string; status: string }[] }[];
  revision: string | null;
  position: string | null;
  replayed: boolean;
}

interface Problem {
  code: string;
  detail: string;
  status: number;
  location?: { line: number; record?: string };
  expected?: string;
  actual?: string;
  check?: string;
  checks?: { check: string; status: string }[];
  path?: string;
}

describe("statement import: POST /bank-accounts/{id}/statements", () => {
  let p: ImportPlatform;
  const url = "/bank-accounts/main/statements";

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: "imp", bankAccountId: "main", iban: IBAN });
  });
  afterAll(async () => {
    await p.close();
  });

  const first = mt940Message({ reference: "S1", sequence: "1", openingMinor: 100_000n, openingDate: "240101", closingDate: "240102", lines: sampleLines(4) });

  it("imports a statement: its lines in batches, then its StatementImported; the answer adds up", async () => {
    const before = (await importEvents(p.db)).length;
    const response = await importFile(p.app, url, first, { query: { fileName: "s1.sta" } });
    expect(response.statusCode, response.body).toBe(201);
    const answer = response.json<Answer>();
    expect(answer).toMatchObject({ format: "mt940", lineCount: 4, newLines: 4, knownLines: 0, replayed: false });
    expect(answer.statementIds).toHaveLength(1);
    // 100 + 102 credits, 101 + 103 debits (minor units).
    expect(answer.totals).toEqual([{ currency: "EUR", credits: { count: 2, amount: "2.02" }, debits: { count: 2, amount: "2.04" } }]);
    expect(answer.statements[0]).toMatchObject({ bankAccountId: "main", section: 0, lineCount: 4, newLines: 4, knownLines: 0, reimport: false });
    expect(answer.statements[0]?.checks.find((c) => c.check === "balance")?.status).toBe("passed");
    expect(answer.position).toMatch(/^[0-9a-f]{32}$/);
    const events = (await importEvents(p.db)).slice(before);
    expect(countByType(events)).toEqual({ StatementLinesRecorded: 1, StatementImported: 1 });
    const imported = events.find((e) => e.type === "StatementImported");
    const data = imported === undefined ? undefined : parseReconciliationEvent(imported);
    expect(data?.type === "StatementImported" ? data.data : undefined).toMatchObject({ statementId: answer.statementIds[0], lineCount: 4, newLines: 4, batches: 1, source: { fileName: "s1.sta", encoding: "utf-8", section: 0 } });
  });

  it("re-importing the same file with a new key writes nothing and answers newLines 0 with the first statement id", async () => {
    const original = (await importFile(p.app, url, first, { key: key() })).json<Answer>();
    const before = (await importEvents(p.db)).length;
    const again = await importFile(p.app, url, first);
    expect(again.statusCode, again.body).toBe(201);
    const answer = again.json<Answer>();
    expect(answer).toMatchObject({ newLines: 0, knownLines: 4, lineCount: 4, statementIds: original.statementIds });
    expect(answer.statements[0]?.reimport).toBe(true);
    expect((await importEvents(p.db)).length).toBe(before);
  });

  it("the same key again replays the stored answer; with another file it is a 409 IDEMPOTENCY_CONFLICT", async () => {
    const k = key();
    const file = mt940Message({ reference: "S-replay", sequence: "2", openingMinor: 99_998n, openingDate: "240102", closingDate: "240103", lines: sampleLines(2, { date: "240103", refPrefix: "RP" }) });
    const firstAnswer = await importFile(p.app, url, file, { key: k });
    expect(firstAnswer.statusCode, firstAnswer.body).toBe(201);
    const before = (await importEvents(p.db)).length;
    const replay = await importFile(p.app, url, file, { key: k });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect({ ...replay.json<Answer>(), replayed: false }).toEqual(firstAnswer.json<Answer>());
    const other = await importFile(p.app, url, `${file}\r\n`, { key: k });
    expect(other.statusCode).toBe(409);
    expect(other.json<Problem>().code).toBe("IDEMPOTENCY_CONFLICT");
    expect((await importEvents(p.db)).length).toBe(before);
  });

  it("an overlapping statement records only its new lines", async () => {
    // Lines R0..R3 were in the first statement; this one repeats R2, R3 and adds two.
    const lines = [...sampleLines(2, { from: 2 }), ...sampleLines(2, { date: "240102", refPrefix: "NEW" })];
    const file = mt940Message({ reference: "S1b", sequence: "1", openingMinor: 100_000n, openingDate: "240101", closingDate: "240102", lines });
    const before = (await importEvents(p.db)).length;
    const response = await importFile(p.app, url, file, { query: { acceptFailedChecks: "true" } });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json<Answer>()).toMatchObject({ lineCount: 4, newLines: 2, knownLines: 2 });
    const events = (await importEvents(p.db)).slice(before);
    const batch = events.map((e) => parseReconciliationEvent(e)).find((e) => e.type === "StatementLinesRecorded");
    expect(batch?.type === "StatementLinesRecorded" ? batch.data.lines.map((l) => l.bankReference) : []).toEqual(["NEW0", "NEW1"]);
  });

  it("a file sent as application/json is the file, not JSON", async () => {
    const file = mt940Message({ reference: "S-json", sequence: "9", openingDate: "240201", closingDate: "240201", lines: sampleLines(1, { date: "240201", refPrefix: "J" }) });
    const response = await importFile(p.app, url, file, { contentType: "application/json", query: { acceptFailedChecks: "true" } });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json<Answer>().newLines).toBe(1);
  });

  it("an unknown query parameter is a 400 naming it; an unknown bank account a 404", async () => {
    const unknown = await importFile(p.app, url, first, { query: { formatt: "mt940" } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json<Problem>()).toMatchObject({ code: "VALIDATION_FAILED", path: "/formatt" });
    const missing = await importFile(p.app, "/bank-accounts/nosuch/statements", first);
    expect(missing.statusCode).toBe(404);
    expect(missing.json<Problem>().code).toBe("BANK_ACCOUNT_NOT_FOUND");
  });

  it("a missing Idempotency-Key is a 400 and nothing is written", async () => {
    const before = (await importEvents(p.db)).length;
    const response = await p.app.inject({ method: "POST", url, payload: Buffer.from(first), headers: { "content-type": "text/plain" } });
    expect(response.statusCode).toBe(400);
    expect(response.json<Problem>().code).toBe("IDEMPOTENCY_KEY_MISSING");
    expect((await importEvents(p.db)).length).toBe(before);
  });
});

describe("statement checks at the import: a failure rejects the file whole; acceptFailedChecks records it", () => {
  let p: ImportPlatform;

  beforeAll(async () => {
    p = await startImportPlatform();
  });
  afterAll(async () => {
    await p.close();
  });

  // Each case on its own bank account (its own ledger), after the same first statement: 1,000.00 closing on 2024-03-01, sequence 1.
  const cases: { name: string; currency?: string; code: string; file: () => string }[] = [
    {
      name: "balance",
      code: "STATEMENT_UNBALANCED",
      file: () => mt940Message({ reference: "U", sequence: "2", openingMinor: 100_000n, openingDate: "240301", closingDate: "240302", closingMinor: 123_456n, lines: sampleLines(2, { date: "240302" }) }),
    },
    {
      name: "continuity",
      code: "STATEMENT_DISCONTINUOUS",
      file: () => mt940Message({ reference: "C", sequence: "2", openingMinor: 90_000n, openingDate: "240301", closingDate: "240302", lines: sampleLines(2, { date: "240302" }) }),
    },
    {
      name: "sequence",
      code: "STATEMENT_SEQUENCE_GAP",
      file: () => mt940Message({ reference: "Q", sequence: "5", openingMinor: 100_000n, openingDate: "240301", closingDate: "240302", lines: sampleLines(2, { date: "240302" }) }),
    },
    {
      name: "account",
      code: "STATEMENT_ACCOUNT_MISMATCH",
      file: () => mt940Message({ reference: "A", account: IBAN_2, sequence: "2", openingMinor: 100_000n, openingDate: "240301", closingDate: "240302", lines: sampleLines(2, { date: "240302" }) }),
    },
    {
      name: "period",
      code: "STATEMENT_LINE_OUTSIDE_PERIOD",
      file: () => mt940Message({ reference: "P", sequence: "2", openingMinor: 100_000n, openingDate: "240301", closingDate: "240302", lines: sampleLines(2, { date: "240310" }) }),
    },
    {
      name: "currency",
      currency: "USD",
      code: "STATEMENT_CURRENCY_MISMATCH",
      file: () => mt940Message({ reference: "X", sequence: "1", openingMinor: 100_000n, openingDate: "240301", closingDate: "240302", lines: sampleLines(2, { date: "240302" }) }),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: 422 ${c.code} with its location and figures, nothing written; accepted with acceptFailedChecks=true`, async () => {
      const bankAccountId = `chk_${c.name}`;
      await setupBankAccount(p.app, { ledgerId: bankAccountId, bankAccountId, iban: IBAN, ...(c.currency === undefined ? {} : { currency: c.currency }) });
      const url = `/bank-accounts/${bankAccountId}/statements`;
      if (c.currency === undefined) {
        const base = mt940Message({ reference: "B1", sequence: "1", openingMinor: 100_000n, openingDate: "240229", closingDate: "240301", lines: [] });
        const response = await importFile(p.app, url, base);
        expect(response.statusCode, response.body).toBe(201);
      }
      const before = (await importEvents(p.db)).length;
      const refused = await importFile(p.app, url, c.file());
      expect(refused.statusCode, refused.body).toBe(422);
      const problem = refused.json<Problem>();
      expect(problem.code).toBe(c.code);
      expect(problem.check).toBe(c.name);
      expect(problem.checks?.find((r) => r.check === c.name)?.status).toBe("failed");
      expect(problem).toHaveProperty("expected");
      expect(problem).toHaveProperty("actual");
      expect(problem).toHaveProperty("location");
      expect((await importEvents(p.db)).length).toBe(before);

      const accepted = await importFile(p.app, url, c.file(), { query: { acceptFailedChecks: "true" } });
      expect(accepted.statusCode, accepted.body).toBe(201);
      const answer = accepted.json<Answer>();
      expect(answer.checks.some((r) => r.check === c.name && r.status === "failed" && r.code === c.code)).toBe(true);
      const events = (await importEvents(p.db)).slice(before);
      const imported = events.map((e) => parseReconciliationEvent(e)).find((e) => e.type === "StatementImported");
      expect(imported?.type === "StatementImported" ? imported.data : undefined).toMatchObject({ acceptedWithFailedChecks: true, statementId: answer.statementIds[0] });
    });
  }
});
