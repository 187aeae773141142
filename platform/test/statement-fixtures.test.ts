// Proves, through the HTTP API over a real PostgreSQL, that every real bank
// file in test-support/fixtures/statements imports exactly:
// - the lines the API shows agree, line by line, with the source project's
//   own parse (`*.expected.*`: genkgo/camt's JSON dumps, wolph/mt940's YAML
//   dumps) or, for BAI2 and OFX whose sources ship none, with the figures
//   written in the file (read by eye, listed below): amounts, sides, dates,
//   references;
// - balances that do not add up, a withdrawn currency and lines outside a
//   statement's period are reported as failed checks: without
//   acceptFailedChecks the file is refused whole (422 naming the check,
//   nothing written), with it the failed checks are on every statement;
// - a balance check passes exactly when opening + credits − debits equals
//   closing in the figures the API reports;
// - importing any sample again is a no-op: newLines 0, nothing written.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Platform } from "./ledger-support.ts";
import { command, key, query, startPlatform } from "./ledger-support.ts";

const FIXTURES = new URL("../../test-support/fixtures/statements/", import.meta.url);
const LEDGER = "fixtures";

interface ExpectedLine {
  amount: string;
  side: "credit" | "debit";
  currency?: string;
  bookingDate?: string | null;
  valueDate?: string | null;
  bankReference?: string | null;
  endToEndId?: string | null;
}

interface CheckDto {
  check: string;
  status: "passed" | "failed" | "skipped";
  code: string | null;
}

interface StatementAnswer {
  statementId: string;
  bankAccountId: string;
  lineCount: number;
  newLines: number;
  knownLines: number;
  checks: CheckDto[];
}

interface ImportAnswer {
  statementIds: string[];
  format: string;
  lineCount: number;
  newLines: number;
  knownLines: number;
  statements: StatementAnswer[];
  position: string;
}

interface LineDto {
  amount: string;
  side: string;
  currency: string;
  bookingDate: string | null;
  valueDate: string | null;
  bankReference: string | null;
  endToEndId: string | null;
}

interface BalanceDto {
  amount: string;
  side: "credit" | "debit";
  currency: string;
}

interface StatementDto {
  statementId: string;
  openingBalance: BalanceDto | null;
  closingBalance: BalanceDto | null;
  checks: CheckDto[];
}

// ---------------------------------------------------------------- expected

/** Minor units of a decimal string, exactly (no floats), for `exponent` decimals. */
function toMinor(decimal: string, exponent: number): bigint {
  const negative = decimal.startsWith("-");
  const body = negative ? decimal.slice(1) : decimal;
  const [whole = "0", fraction = ""] = body.split(".");
  const value = BigInt(whole + fraction.padEnd(exponent, "0").slice(0, exponent));
  return negative ? -value : value;
}

function fromMinor(minor: bigint, exponent: number): string {
  const digits = (minor < 0n ? -minor : minor).toString().padStart(exponent + 1, "0");
  return exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** genkgo/camt's dump: each entry's amount (signed minor units), dates and the first transaction's refs. */
function camtExpected(file: string): { entries: { amountMinor: bigint; currency: string; bookingDate: string | null; valueDate: string | null; bankReference: string | null; endToEndId: string | null }[] } {
  type Node = Record<string, unknown>;
  const dump = JSON.parse(readFileSync(new URL(`camt/${file}`, FIXTURES), "utf8")) as { getEntries: Node[] };
  const at = (node: unknown, ...path: string[]): unknown => path.reduce<unknown>((x, k) => (x !== null && typeof x === "object" ? (x as Node)[k] : undefined), node);
  const date = (node: unknown): string | null => {
    const iso = at(node, "0");
    return typeof iso === "string" ? iso.slice(0, 10) : null;
  };
  return {
    entries: dump.getEntries.map((entry) => ({
      amountMinor: BigInt(String(at(entry, "getAmount", "getAmount"))),
      currency: String(at(entry, "getAmount", "getCurrency", "getCode")),
      bookingDate: date(at(entry, "getBookingDate")),
      valueDate: date(at(entry, "getValueDate")),
      bankReference: (at(entry, "getAccountServicerReference") as string | null | undefined) ?? null,
      endToEndId: (at(entry, "getTransactionDetail", "getReference", "getEndToEndId") as string | null | undefined) ?? null,
    })),
  };
}

/** wolph/mt940's dump: every transaction, in file order (its dates are pickled: 2 bytes year, month, day). */
function mt940Expected(file: string): ExpectedLine[] {
  const text = readFileSync(new URL(`mt940/${file}`, FIXTURES), "utf8");
  const blocks = text.split("- !!python/object:mt940.models.Transaction\n").slice(1);
  const pickledDate = (block: string, field: string): string | null => {
    const match = new RegExp(`\\n    ${field}: !!python/object/apply:mt940.models.Date\\n    - !!binary \\|\\n      (\\S+)`).exec(block);
    if (match?.[1] === undefined) return null;
    const bytes = Buffer.from(match[1], "base64");
    const year = (bytes[0] ?? 0) * 256 + (bytes[1] ?? 0);
    return `${String(year)}-${String(bytes[2]).padStart(2, "0")}-${String(bytes[3]).padStart(2, "0")}`;
  };
  return blocks.map((block) => {
    const amount = /amount: !!python\/object:mt940\.models\.Amount\n\s+amount: !!python\/object\/apply:decimal\.Decimal\n\s+- '([^']+)'\n\s+currency: (\w+)/.exec(block);
    const status = /\n {4}status: (\w+)/.exec(block)?.[1];
    const reference = /\n {4}bank_reference: (.*)/.exec(block)?.[1]?.replace(/^'|'$/g, "");
    if (amount?.[1] === undefined || amount[2] === undefined || status === undefined) throw new Error(`unreadable expected block in ${file}`);
    const exponent = 2;
    const minor = toMinor(amount[1], exponent);
    // The mark gives the direction: D and RC (reversal of a credit) are debit
    // bookings, C and RD credit ones (wolph signs RC's amount as a credit).
    const side = status === "D" || status === "RC" ? "debit" : "credit";
    return {
      amount: fromMinor(minor < 0n ? -minor : minor, exponent),
      side,
      currency: amount[2],
      valueDate: pickledDate(block, "date"),
      bankReference: reference === undefined || reference === "null" || reference === "NONREF" ? null : reference,
    } satisfies ExpectedLine;
  });
}

// BAI2 (moov-io sample1): read from the file itself. Group as-of date
// 2006-03-17; every detail has funds type V with its value date.
const BAI2_LINES: ExpectedLine[] = [
  ["409", "25.00", "2006-03-16"], ["409", "900.00", "2006-03-16"], ["409", "5.00", "2006-03-16"],
  ["108", "2035.00", "2006-03-16"], ["108", "25.00", "2006-03-16"], ["108", "25.00", "2006-03-16"],
  ["409", "200.00", "2006-03-16"], ["409", "900.00", "2006-03-16"], ["409", "20.00", "2006-03-16"],
  ["409", "25.00", "2006-03-16"], ["409", "10.00", "2006-03-16"],
  ["108", "115.00", "2006-03-17"], ["108", "1000.00", "2006-03-17"], ["409", "1000.00", "2006-03-17"],
  ["409", "90.00", "2006-03-17"], ["409", "20.00", "2006-03-17"], ["409", "5.00", "2006-03-17"],
].map(([type, amount, valueDate]) => ({ amount: amount ?? "", side: type === "108" ? "credit" : "debit", currency: "CAD", valueDate: valueDate ?? null }));

// OFX (ofxparse bank_medium): three debits, FITIDs as written.
const OFX_LINES: ExpectedLine[] = [
  { amount: "6.60", side: "debit", currency: "CAD", bookingDate: "2009-04-01", bankReference: "0000123456782009040100001" },
  { amount: "316.67", side: "debit", currency: "CAD", bookingDate: "2009-04-02", bankReference: "0000123456782009040200004" },
  { amount: "22.00", side: "debit", currency: "CAD", bookingDate: "2009-04-03", bankReference: "0000123456782009040300005" },
];

// ---------------------------------------------------------------- API

async function eventCount(p: Platform): Promise<string> {
  const result = await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events");
  return result.rows[0]?.n ?? "0";
}

function upload(p: Platform, file: string, query: string, ledgerId = ledgerOf(file)) {
  return p.app.inject({
    method: "POST",
    url: `/ledgers/${ledgerId}/statements${query}`,
    payload: readFileSync(new URL(file, FIXTURES)),
    headers: { "idempotency-key": key(), "content-type": "application/octet-stream" },
  });
}

/** The two camt.053 samples are one statement of one IBAN in two versions: each gets a ledger of its own. */
function ledgerOf(file: string): string {
  return file.includes("camt053.v8") ? `${LEDGER}_v8` : LEDGER;
}

async function linesOf(p: Platform, statementId: string, position: string): Promise<LineDto[]> {
  const lines: LineDto[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const url = `/statements/${statementId}/lines?limit=50${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const response = await query(p.app, url, position);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<{ items: LineDto[]; nextCursor: string | null }>();
    lines.push(...body.items);
    cursor = body.nextCursor;
    if (cursor === null) return lines;
  }
  throw new Error("more pages than a fixture can have");
}

async function statementOf(p: Platform, statementId: string, position: string): Promise<StatementDto> {
  const response = await query(p.app, `/statements/${statementId}`, position);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<StatementDto>();
}

function signedMinor(balance: BalanceDto): bigint {
  const minor = toMinor(balance.amount, balance.amount.includes(".") ? balance.amount.split(".")[1]?.length ?? 0 : 0);
  return balance.side === "debit" ? -minor : minor;
}

/**
 * Imports `file` the way a clerk would: first as is (refused whole when a
 * check fails, nothing written), then with acceptFailedChecks when it was
 * refused; then again, which must be a no-op. Returns the accepted answer.
 */
async function importFixture(p: Platform, file: string, options: { refusedWith?: string[] } = {}): Promise<ImportAnswer> {
  const before = await eventCount(p);
  const plain = await upload(p, file, "");
  if (options.refusedWith === undefined) {
    expect(plain.statusCode, plain.body).toBe(201);
  } else {
    expect(plain.statusCode, plain.body).toBe(422);
    expect(options.refusedWith).toContain(plain.json<{ code: string }>().code);
    expect(await eventCount(p)).toBe(before);
  }
  const accepted = options.refusedWith === undefined ? plain : await upload(p, file, "?acceptFailedChecks=true");
  expect(accepted.statusCode, accepted.body).toBe(201);
  const answer = accepted.json<ImportAnswer>();
  expect(answer.newLines).toBe(answer.lineCount);

  const afterFirst = await eventCount(p);
  const again = await upload(p, file, "?acceptFailedChecks=true");
  expect(again.statusCode, again.body).toBe(201);
  const repeat = again.json<ImportAnswer>();
  expect(repeat.newLines).toBe(0);
  expect(repeat.knownLines).toBe(answer.lineCount);
  expect(await eventCount(p)).toBe(afterFirst);
  return answer;
}

async function allLines(p: Platform, answer: ImportAnswer): Promise<LineDto[]> {
  const lines: LineDto[] = [];
  for (const statementId of answer.statementIds) lines.push(...(await linesOf(p, statementId, answer.position)));
  return lines;
}

function expectLines(actual: LineDto[], expected: ExpectedLine[]): void {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((line, index) => {
    const got = actual[index];
    const picked: Record<string, unknown> = {};
    for (const field of Object.keys(line)) picked[field] = got === undefined ? undefined : got[field as keyof LineDto];
    expect(picked, `line ${index + 1}`).toEqual(line);
  });
}

/** The balance check agrees with the figures: passed exactly when opening + credits − debits = closing. */
async function expectBalanceChecksHonest(p: Platform, answer: ImportAnswer): Promise<void> {
  for (const statementId of answer.statementIds) {
    const statement = await statementOf(p, statementId, answer.position);
    const balance = statement.checks.find((check) => check.check === "balance");
    const { openingBalance: opening, closingBalance: closing } = statement;
    const comparable = opening !== null && closing !== null && closing.currency === opening.currency;
    if (!comparable) {
      expect(balance?.status).toBe("skipped");
      continue;
    }
    const lines = await linesOf(p, statementId, answer.position);
    const exponent = opening.amount.split(".")[1]?.length ?? 0;
    const movement = lines.reduce((sum, line) => sum + (line.side === "credit" ? 1n : -1n) * toMinor(line.amount, exponent), 0n);
    const adds = signedMinor(opening) + movement === signedMinor(closing);
    expect(balance?.status, `statement ${statementId}`).toBe(adds ? "passed" : "failed");
  }
}

function failedChecks(statement: StatementAnswer): string[] {
  return statement.checks.filter((check) => check.status === "failed").map((check) => check.check).sort();
}

// ---------------------------------------------------------------- tests

describe("every real statement file imports exactly through the HTTP API", () => {
  let p: Platform;

  async function bankAccount(body: Record<string, unknown>, ledgerId = LEDGER): Promise<void> {
    const response = await command(p.app, `/ledgers/${ledgerId}/bank-accounts`, { kind: "bank", ledgerAccount: "1010", ...body });
    expect(response.statusCode, response.body).toBe(201);
  }

  beforeAll(async () => {
    p = await startPlatform();
    for (const ledgerId of [LEDGER, `${LEDGER}_v8`]) {
      expect((await command(p.app, "/ledgers", { ledgerId, name: "Fixtures", baseCurrency: "EUR" })).statusCode).toBe(201);
      expect((await command(p.app, `/ledgers/${ledgerId}/accounts`, { code: "1010", name: "Banks", type: "asset" })).statusCode).toBe(201);
    }
    await bankAccount({ bankAccountId: "nl_vayb_v8", name: "camt053 v8", iban: "NL26VAYB8060476890", currency: "EUR" }, `${LEDGER}_v8`);
    // One bank account per account the files name (the DEM archive goes to a EUR account: its currency check must fail).
    await bankAccount({ bankAccountId: "nl_vayb", name: "camt053", iban: "NL26 VAYB 8060 4768 90", currency: "EUR" });
    await bankAccount({ bankAccountId: "ch_camt054", name: "camt054", iban: "CH2801234000123456789", currency: "CHF" });
    await bankAccount({ bankAccountId: "de_cmxl_1", name: "cmxl 1", accountNumber: "45050050/76198810", currency: "EUR" });
    await bankAccount({ bankAccountId: "de_cmxl_2", name: "cmxl 2", accountNumber: "10020030/1234567", currency: "EUR" });
    await bankAccount({ bankAccountId: "pl_cmxl_3", name: "cmxl 3", accountNumber: "BPHKPLPK/320000546101", currency: "PLN" });
    const betterplace = readFileSync(new URL("mt940/betterplace-sepa_mt9401.sta", FIXTURES), "latin1");
    const accounts = [...new Set([...betterplace.matchAll(/^:25:(.+?)\r?$/gm)].map((m) => m[1] ?? ""))];
    for (const [index, accountNumber] of accounts.entries()) {
      await bankAccount({ bankAccountId: `de_bp_${String(index)}`, name: `betterplace ${String(index)}`, accountNumber, currency: "EUR" });
    }
    await bankAccount({ bankAccountId: "ca_bai2", name: "bai2", accountNumber: "10200123456", currency: "CAD" });
    await bankAccount({ bankAccountId: "ca_ofx", name: "ofx", accountNumber: "12300 000012345678", currency: "CAD" });
  }, 60_000);
  afterAll(async () => {
    await p.close();
  });

  it.each(["camt053.v2.minimal", "camt053.v8"])("camt: %s (a closing balance in SEK, lines outside the stated period)", async (name) => {
    const expected = camtExpected(`${name}.expected.json`);
    const answer = await importFixture(p, `camt/${name}.xml`, { refusedWith: ["STATEMENT_CURRENCY_MISMATCH"] });
    expect(answer.format).toBe("camt.053");
    const lines = await allLines(p, answer);
    expectLines(
      lines,
      expected.entries.map((entry) => ({
        amount: fromMinor(entry.amountMinor < 0n ? -entry.amountMinor : entry.amountMinor, 2),
        side: entry.amountMinor < 0n ? "debit" : "credit",
        currency: entry.currency,
        bookingDate: entry.bookingDate,
        valueDate: entry.valueDate,
        bankReference: entry.bankReference,
        endToEndId: entry.endToEndId,
      })),
    );
    // The sample's closing balance is in SEK (the account and opening are EUR), so
    // the balance cannot be checked; its period (2007-10-18) is not its lines' (2014-12-31).
    expect(answer.statements.map(failedChecks)).toEqual([["currency", "period"]]);
    await expectBalanceChecksHonest(p, answer);
  });

  it("camt: camt054.v8, one entry of three transactions becomes three lines", async () => {
    const expected = camtExpected("camt054.v8.expected.json");
    const answer = await importFixture(p, "camt/camt054.v8.xml", { refusedWith: ["STATEMENT_CURRENCY_MISMATCH", "STATEMENT_CONTROL_TOTAL_MISMATCH"] });
    expect(answer.format).toBe("camt.054");
    const lines = await allLines(p, answer);
    // The sample's transactions say CdtDbtInd CRDT under a DBIT entry: each line
    // keeps its own transaction's direction (genkgo's dump signs them by the entry).
    expect(lines.map((line) => [line.amount, line.currency, line.side, line.endToEndId])).toEqual([
      ["3.10", "CHF", "credit", expected.entries[0]?.endToEndId],
      ["3.20", "CHF", "credit", "UXC06170000006PI00001EE00002"],
      ["3.20", "CHF", "credit", "UXC06170000006PI00001EE00002"],
    ]);
    expect(lines.every((line) => line.bookingDate === expected.entries[0]?.bookingDate)).toBe(true);
  });

  it("MT940: cmxl (three accounts; a DEM archive, a statement whose period ends before it starts)", async () => {
    const answer = await importFixture(p, "mt940/cmxl-mt940.sta", { refusedWith: ["STATEMENT_CURRENCY_MISMATCH", "STATEMENT_LINE_OUTSIDE_PERIOD"] });
    expect(answer.format).toBe("mt940");
    expect(answer.statements.map((s) => [s.bankAccountId, s.lineCount])).toEqual([
      ["de_cmxl_1", 11],
      ["de_cmxl_2", 2],
      ["pl_cmxl_3", 3],
    ]);
    expectLines(await allLines(p, answer), mt940Expected("cmxl-mt940.expected.yml"));
    const [dem, , pln] = answer.statements;
    expect(dem && failedChecks(dem)).toEqual(expect.arrayContaining(["currency", "period"]));
    expect(pln && failedChecks(pln)).toEqual(expect.arrayContaining(["period"]));
    await expectBalanceChecksHonest(p, answer);
  });

  it("MT940: betterplace (26 statements over many accounts, 97 lines)", async () => {
    const plain = await upload(p, "mt940/betterplace-sepa_mt9401.sta", "");
    const answer = plain.statusCode === 201 ? plain.json<ImportAnswer>() : (await upload(p, "mt940/betterplace-sepa_mt9401.sta", "?acceptFailedChecks=true")).json<ImportAnswer>();
    expect(answer.statements).toHaveLength(26);
    expect(answer.lineCount).toBe(97);
    expectLines(await allLines(p, answer), mt940Expected("betterplace-sepa_mt9401.expected.yml"));
    await expectBalanceChecksHonest(p, answer);
    const again = await upload(p, "mt940/betterplace-sepa_mt9401.sta", "?acceptFailedChecks=true");
    expect(again.json<ImportAnswer>().newLines, again.body).toBe(0);
  });

  it("BAI2: moov sample1 (two account sections of one account, control totals that add up)", async () => {
    const answer = await importFixture(p, "bai2/moov-sample1.txt");
    expect(answer.format).toBe("bai2");
    expect(answer.statements.map((s) => s.lineCount)).toEqual([11, 6]);
    expectLines(await allLines(p, answer), BAI2_LINES);
    for (const statement of answer.statements) expect(statement.checks.find((c) => c.check === "controlTotals")?.status).toBe("passed");
  });

  it("OFX 1.02: ofxparse bank_medium", async () => {
    const answer = await importFixture(p, "ofx/ofxparse-bank_medium.ofx");
    expect(answer.format).toBe("ofx");
    expectLines(await allLines(p, answer), OFX_LINES);
    const statement = await statementOf(p, answer.statementIds[0] ?? "", answer.position);
    expect(statement.closingBalance).toMatchObject({ amount: "382.34", side: "credit", currency: "CAD" });
  });
});
