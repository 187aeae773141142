// Hostile and broken uploads to the statement import, over HTTP and a real
// PostgreSQL. Proves, each time with nothing written to the log: the file
// size limit holds at the byte (a file of exactly the limit imports, one
// byte more is 413, with or without Content-Length); a client that vanishes
// mid-upload leaves no temporary file behind; the per-process bound on
// concurrent imports answers 503 OVERLOADED with Retry-After and the import
// running goes on; encodings (latin-1 ä, windows-1252 €, a UTF-8 BOM) arrive
// as their characters, and invalid UTF-8 or a NUL is a 400 at its line; a
// malformed file, an unknown format and a CSV without profile get their own
// codes; a multi-account file is routed by its accounts' IBANs and one
// unknown account rejects the whole file.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReconciliationEvent } from "@trueup/contracts";
import type { ImportPlatform } from "./statement-import-support.ts";
import { IBAN, IBAN_2, importEvents, importFile, mt940Message, sampleLines, setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import { key } from "./ledger-support.ts";

interface Problem {
  code: string;
  detail: string;
  location?: { line: number; record?: string };
  limit?: number;
  iban?: string;
}

const url = "/bank-accounts/acct/statements";
const statement = mt940Message({ reference: "H1", sequence: "1", openingMinor: 50_000n, openingDate: "240401", closingDate: "240402", lines: sampleLines(3, { date: "240402" }) });

/** Polls `condition` every 20 ms, for at most `maxMs` (generous: the machine is shared). */
async function eventually(condition: () => Promise<boolean>, maxMs = 30_000): Promise<boolean> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

describe("statement import limits and broken uploads", () => {
  let p: ImportPlatform;
  let spoolDirectory: string;
  const limit = Buffer.byteLength(statement);

  beforeAll(async () => {
    spoolDirectory = await mkdtemp(path.join(os.tmpdir(), "trueup-import-test-"));
    p = await startImportPlatform({ imports: { limits: { fileBytesMax: limit, concurrentImportsMax: 1 }, spoolDirectory } });
    await setupBankAccount(p.app, { ledgerId: "hostile", bankAccountId: "acct", iban: IBAN });
  });
  afterAll(async () => {
    await p.close();
    await rm(spoolDirectory, { recursive: true, force: true });
  });

  it("a file of exactly the size limit imports; one byte more is 413 STATEMENT_FILE_TOO_LARGE, with or without Content-Length", async () => {
    const atLimit = await importFile(p.app, url, statement);
    expect(atLimit.statusCode, atLimit.body).toBe(201);
    const before = (await importEvents(p.db)).length;
    const beyond = `${statement} `;
    const declared = await importFile(p.app, url, beyond);
    expect(declared.statusCode, declared.body).toBe(413);
    expect(declared.json<Problem>()).toMatchObject({ code: "STATEMENT_FILE_TOO_LARGE", limit });
    // Streamed without a length: refused while it arrives, at the first byte beyond the limit.
    const streamed = await p.app.inject({
      method: "POST",
      url,
      payload: Readable.from([Buffer.from(beyond.slice(0, 10)), Buffer.from(beyond.slice(10))]),
      headers: { "idempotency-key": key(), "content-type": "text/plain", "transfer-encoding": "chunked" },
    });
    expect(streamed.statusCode, streamed.body).toBe(413);
    expect(streamed.json<Problem>().code).toBe("STATEMENT_FILE_TOO_LARGE");
    expect((await importEvents(p.db)).length).toBe(before);
    expect(await readdir(spoolDirectory)).toEqual([]);
  });

  it("a client that disconnects mid-upload leaves no temporary file and nothing written", async () => {
    const address = await p.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = new URL(address);
    const before = (await importEvents(p.db)).length;
    const socket = net.connect({ port: Number(port), host: "127.0.0.1" });
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    const half = statement.slice(0, Math.floor(statement.length / 2));
    socket.write(`POST ${url} HTTP/1.1\r\nHost: localhost\r\nIdempotency-Key: ${key()}\r\nContent-Type: text/plain\r\nContent-Length: ${limit}\r\n\r\n${half}`);
    // The upload is being spooled: its temporary file exists.
    expect(await eventually(async () => (await readdir(spoolDirectory)).length === 1)).toBe(true);
    socket.destroy();
    expect(await eventually(async () => (await readdir(spoolDirectory)).length === 0)).toBe(true);
    expect((await importEvents(p.db)).length).toBe(before);
  });

  it("beyond the concurrent imports bound: 503 OVERLOADED with Retry-After; the running import completes", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const file = mt940Message({ reference: "H2", sequence: "2", openingMinor: 50_101n, openingDate: "240402", closingDate: "240403", lines: sampleLines(2, { date: "240403", refPrefix: "OV" }) });
    const slow = Readable.from(
      (async function* () {
        yield Buffer.from(file.slice(0, 20));
        await gate;
        yield Buffer.from(file.slice(20));
      })(),
    );
    const running = p.app.inject({ method: "POST", url, payload: slow, headers: { "idempotency-key": key(), "content-type": "text/plain" } });
    // The first import holds the only slot once its file is being spooled.
    expect(await eventually(async () => (await readdir(spoolDirectory)).length === 1)).toBe(true);
    const refused = await importFile(p.app, url, file);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers["retry-after"]).toBeDefined();
    expect(refused.json<Problem>().code).toBe("OVERLOADED");
    release();
    const done = await running;
    expect(done.statusCode, done.body).toBe(201);
  });
});

describe("statement import: its temporary files", () => {
  let p: ImportPlatform;
  let spoolDirectory: string;

  beforeAll(async () => {
    spoolDirectory = await mkdtemp(path.join(os.tmpdir(), "trueup-import-test-"));
    p = await startImportPlatform({ imports: { spoolDirectory } });
    await setupBankAccount(p.app, { ledgerId: "files", bankAccountId: "acct", iban: IBAN });
  });
  afterAll(async () => {
    await p.close();
    await rm(spoolDirectory, { recursive: true, force: true });
  });

  it("the upload and its line spool are gone after an import, a line refused after thousands were spooled, and a failed check", async () => {
    const lines = sampleLines(3_000, { date: "240602", refPrefix: "TF" });
    const good = mt940Message({ reference: "TF1", sequence: "1", openingDate: "240601", closingDate: "240602", lines });
    const imported = await importFile(p.app, url, good);
    expect(imported.statusCode, imported.body).toBe(201);
    expect(await readdir(spoolDirectory)).toEqual([]);
    const before = (await importEvents(p.db)).length;
    // The last :61: cut in half: every earlier line was checked and spooled before the refusal.
    const opening = -1_500n;
    const whole = mt940Message({ reference: "TF2", sequence: "2", openingMinor: opening, openingDate: "240602", closingDate: "240603", lines: sampleLines(3_000, { date: "240603", refPrefix: "TG" }) });
    const last = whole.lastIndexOf(":61:");
    const cut = `${whole.slice(0, last)}:61:2406030603C${whole.slice(whole.indexOf("\r\n", last))}`;
    const refused = await importFile(p.app, url, cut);
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json<Problem>().code).toBe("STATEMENT_MALFORMED");
    expect(await readdir(spoolDirectory)).toEqual([]);
    const unbalanced = mt940Message({ reference: "TF3", sequence: "2", openingMinor: opening, openingDate: "240602", closingDate: "240603", closingMinor: 1n, lines: sampleLines(3_000, { date: "240603", refPrefix: "TH" }) });
    const failed = await importFile(p.app, url, unbalanced);
    expect(failed.statusCode, failed.body).toBe(422);
    expect(failed.json<Problem>().code).toBe("STATEMENT_UNBALANCED");
    expect(await readdir(spoolDirectory)).toEqual([]);
    expect((await importEvents(p.db)).length).toBe(before);
  });
});

describe("statement import: encodings and malformed files", () => {
  let p: ImportPlatform;

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: "enc", bankAccountId: "acct", iban: IBAN });
  });
  afterAll(async () => {
    await p.close();
  });

  const withText = (text: string, ref: string): string =>
    mt940Message({ reference: ref, sequence: "1", openingDate: "240501", closingDate: "240501", lines: [{ date: "240501", side: "C", amountMinor: 1000n, ref, text }] });

  async function descriptionOf(statementId: string): Promise<string | null | undefined> {
    const events = await importEvents(p.db);
    for (const e of events) {
      const parsed = parseReconciliationEvent({ type: e.type, schemaVersion: e.schemaVersion, data: e.data });
      if (parsed.type === "StatementLinesRecorded" && parsed.data.statementId === statementId) return parsed.data.lines[0]?.description;
    }
    return undefined;
  }

  it("latin-1 ä (sniffed as windows-1252), windows-1252 € and a UTF-8 BOM arrive as their characters", async () => {
    const cases: { bytes: Buffer; query?: Record<string, string>; expected: string }[] = [
      { bytes: Buffer.from(withText("Zahlung Müller", "L1"), "latin1"), expected: "Zahlung Müller" },
      { bytes: Buffer.from(withText("Gebühr 5 €", "W1").replace("€", "\x80"), "latin1"), query: { encoding: "windows-1252" }, expected: "Gebühr 5 €" },
      { bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(withText("Straße €", "B1"), "utf8")]), expected: "Straße €" },
    ];
    for (const c of cases) {
      const response = await importFile(p.app, "/bank-accounts/acct/statements", c.bytes, { query: { acceptFailedChecks: "true", ...c.query } });
      expect(response.statusCode, response.body).toBe(201);
      const [statementId] = response.json<{ statementIds: string[] }>().statementIds;
      expect(await descriptionOf(statementId ?? "")).toBe(c.expected);
    }
  });

  it("invalid UTF-8 (named with ?encoding=utf-8) and a NUL are 400 STATEMENT_ENCODING_INVALID at their line, nothing written", async () => {
    const before = (await importEvents(p.db)).length;
    const text = withText("Zahlung Müller", "E1");
    const line = text.split("\r\n").findIndex((l) => l.includes("Müller")) + 1;
    const invalid = await importFile(p.app, "/bank-accounts/acct/statements", Buffer.from(text, "latin1"), { query: { encoding: "utf-8" } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json<Problem>()).toMatchObject({ code: "STATEMENT_ENCODING_INVALID", location: { line } });
    const nul = await importFile(p.app, "/bank-accounts/acct/statements", Buffer.from(withText("a\u0000b", "E2"), "utf8"));
    expect(nul.statusCode).toBe(400);
    expect(nul.json<Problem>()).toMatchObject({ code: "STATEMENT_ENCODING_INVALID", location: { line } });
    expect((await importEvents(p.db)).length).toBe(before);
  });

  it("a :61: cut in half is 400 STATEMENT_MALFORMED at its line; an unknown format 415; CSV without a profile 400", async () => {
    const before = (await importEvents(p.db)).length;
    const lines = statement.split("\r\n");
    const at = lines.findIndex((l) => l.startsWith(":61:"));
    lines[at] = (lines[at] ?? "").slice(0, 9);
    const cut = await importFile(p.app, "/bank-accounts/acct/statements", lines.join("\r\n"));
    expect(cut.statusCode, cut.body).toBe(400);
    expect(cut.json<Problem>()).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: at + 1 } });
    const unknown = await importFile(p.app, "/bank-accounts/acct/statements", "hello, this is not a statement\n");
    expect(unknown.statusCode).toBe(415);
    expect(unknown.json<Problem>().code).toBe("STATEMENT_FORMAT_UNKNOWN");
    const empty = await importFile(p.app, "/bank-accounts/acct/statements", "");
    expect(empty.statusCode).toBe(415);
    const csv = await importFile(p.app, "/bank-accounts/acct/statements", "date,amount\n2024-01-01,1.00\n", { query: { format: "csv" } });
    expect(csv.statusCode).toBe(400);
    expect(csv.json<Problem>().code).toBe("CSV_PROFILE_REQUIRED");
    expect((await importEvents(p.db)).length).toBe(before);
  });
});

describe("statement import: multi-account files through POST /ledgers/{ledgerId}/statements", () => {
  let p: ImportPlatform;

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: "multi", bankAccountId: "a1", iban: IBAN });
    await setupBankAccount(p.app, { ledgerId: "multi", bankAccountId: "a2", iban: IBAN_2, createLedger: false });
  });
  afterAll(async () => {
    await p.close();
  });

  const forAccount = (account: string, ref: string): string =>
    mt940Message({ reference: ref, account, sequence: "1", openingMinor: 1000n, openingDate: "240601", closingDate: "240602", lines: sampleLines(2, { date: "240602", refPrefix: ref }) });

  it("routes each statement to the bank account with its IBAN (written with spaces, in lower case too)", async () => {
    const spaced = "gb82 west 1234 5698 7654 32";
    const file = forAccount(IBAN, "M1") + forAccount(spaced, "M2");
    const response = await importFile(p.app, "/ledgers/multi/statements", file);
    expect(response.statusCode, response.body).toBe(201);
    const answer = response.json<{ statements: { bankAccountId: string; section: number; newLines: number }[]; newLines: number }>();
    expect(answer.newLines).toBe(4);
    expect(answer.statements.map((s) => [s.bankAccountId, s.section, s.newLines])).toEqual([
      ["a1", 0, 2],
      ["a2", 1, 2],
    ]);
  });

  it("one statement for an account the ledger does not have: 422 STATEMENT_ACCOUNT_UNKNOWN naming it, nothing written", async () => {
    const before = (await importEvents(p.db)).length;
    const unknownIban = "NL91ABNA0417164300";
    const response = await importFile(p.app, "/ledgers/multi/statements", forAccount(IBAN, "U1") + forAccount(unknownIban, "U2"));
    expect(response.statusCode, response.body).toBe(422);
    const problem = response.json<Problem>();
    expect(problem.code).toBe("STATEMENT_ACCOUNT_UNKNOWN");
    expect(problem.detail).toContain(unknownIban);
    expect(problem.location?.line).toBeGreaterThan(1);
    expect((await importEvents(p.db)).length).toBe(before);
  });

  it("the per-account route refuses a file whose statements name another account (STATEMENT_ACCOUNT_MISMATCH), nothing written", async () => {
    const before = (await importEvents(p.db)).length;
    const response = await importFile(p.app, "/bank-accounts/a1/statements", forAccount(IBAN, "X1") + forAccount(IBAN_2, "X2"));
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json<Problem>().code).toBe("STATEMENT_ACCOUNT_MISMATCH");
    expect((await importEvents(p.db)).length).toBe(before);
  });
});
