// Proves the ingest bench's statement generators (bench/lib/statement-generators.ts)
// write what they claim, read back from the bytes on disk independently of
// the generator's own counters: the same seed gives the same bytes and
// another seed other bytes; the stated line count, credit and debit totals
// are what the file holds; balances add up (opening + Σ lines = closing)
// in every statement, and MT940 statements chain (each :60F: is the previous
// :62F:, :28C: numbers without gaps, no statement above its size); the
// camt TxsSummry agrees with the entries; CSV fields with quotes and commas
// are quoted as RFC 4180 says. And through the real importers and statement
// checks (statement after statement, each following the previous): the
// same lines and totals, and no check fails.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENERATED_ACCOUNT, GENERATED_CSV_PROFILE, germanIban, writeCamt053, writeCsv, writeMt940 } from "../../bench/lib/statement-generators.ts";
import { csvProfileSchema } from "@trueup/contracts";
import type { CheckResult, StatementFormat } from "@trueup/contracts";
import { checkStatement, emptyTally, tallyLine } from "../../command-side/src/reconciliation/checks.ts";
import type { PreviousStatement } from "../../command-side/src/reconciliation/checks.ts";
import { IMPORT_LIMITS_DEFAULT, importerFor } from "../../command-side/src/reconciliation/importers/index.ts";

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), "trueup-generators-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const file = (name: string): string => path.join(folder, name);
const sha256 = async (p: string): Promise<string> => createHash("sha256").update(await readFile(p)).digest("hex");
/** "1234.56" or "1234,56" to minor units, exactly. */
const minor = (text: string): bigint => {
  const [units = "", cents = ""] = text.split(/[.,]/);
  expect(cents).toMatch(/^\d{2}$/);
  return BigInt(units) * 100n + BigInt(cents);
};

function ibanValid(iban: string): boolean {
  const rearranged = `${iban.slice(4)}${iban.slice(0, 4)}`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let remainder = 0;
  for (const digit of rearranged) remainder = (remainder * 10 + Number(digit)) % 97;
  return remainder === 1;
}

describe("statement generators", () => {
  it("IBANs they write pass mod 97", () => {
    expect(ibanValid(GENERATED_ACCOUNT.iban)).toBe(true);
    for (const account of ["1", "982945", "9999999999"]) expect(ibanValid(germanIban("37040044", account))).toBe(true);
  });

  it.each([
    ["camt", writeCamt053],
    ["mt940", writeMt940],
    ["csv", writeCsv],
  ] as const)("%s: the same seed gives the same bytes, another seed others", async (name, write) => {
    const a = await write({ path: file(`${name}-a`), lines: 300, seed: 7 });
    const b = await write({ path: file(`${name}-b`), lines: 300, seed: 7 });
    const c = await write({ path: file(`${name}-c`), lines: 300, seed: 8 });
    expect(await sha256(a.path)).toBe(await sha256(b.path));
    expect(await sha256(c.path)).not.toBe(await sha256(a.path));
    expect(a.bytes).toBe((await readFile(a.path)).length);
  });

  it.each([0, -1, 1.5, 5_000_001])("refuses %s lines", async (lines) => {
    await expect(writeCsv({ path: file("bad.csv"), lines, seed: 1 })).rejects.toThrow(RangeError);
  });

  it("camt.053.001.08: N entries, balances and TxsSummry that add up to the entries", async () => {
    const generated = await writeCamt053({ path: file("g.xml"), lines: 2_000, seed: 3 });
    const xml = await readFile(generated.path, "utf8");
    expect(xml).toContain('xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"');
    const entries = [...xml.matchAll(/<Ntry>\s*<Amt Ccy="EUR">([\d.]+)<\/Amt>\s*<CdtDbtInd>(CRDT|DBIT)<\/CdtDbtInd>/g)];
    expect(entries).toHaveLength(2_000);
    let credits = 0n;
    let debits = 0n;
    for (const [, amount = "", indicator] of entries) {
      if (indicator === "CRDT") credits += minor(amount);
      else debits += minor(amount);
    }
    expect({ credits, debits }).toEqual({ credits: generated.credits.amountMinor, debits: generated.debits.amountMinor });
    expect(generated.credits.count + generated.debits.count).toBe(2_000);
    const balance = (code: string): bigint => {
      const match = new RegExp(`<Cd>${code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">([\\d.]+)</Amt><CdtDbtInd>(CRDT|DBIT)</CdtDbtInd>`).exec(xml);
      expect(match).not.toBeNull();
      return (match?.[2] === "DBIT" ? -1n : 1n) * minor(match?.[1] ?? "");
    };
    expect(balance("OPBD") + credits - debits).toBe(balance("CLBD"));
    expect(balance("CLBD")).toBe(generated.closingMinor);
    expect(xml).toContain(`<TtlNtries><NbOfNtries>2000</NbOfNtries><Sum>${(credits + debits).toString().replace(/(\d\d)$/, ".$1")}</Sum>`);
    // Every entry has the bank's unique reference the line identity uses.
    const refs = [...xml.matchAll(/<AcctSvcrRef>([^<]+)<\/AcctSvcrRef>/g)].map((m) => m[1]);
    expect(new Set(refs).size).toBe(2_000);
    // Every booking date inside the statement's period.
    for (const [, date = ""] of xml.matchAll(/<BookgDt><Dt>([\d-]+)<\/Dt><\/BookgDt>/g)) {
      expect(date >= generated.periodStart && date <= generated.periodEnd).toBe(true);
    }
  });

  it("MT940: statements of at most the size asked, chained balances, :28C: without gaps, each adding up", async () => {
    const generated = await writeMt940({ path: file("g.sta"), lines: 2_345, seed: 4, linesPerStatement: 500 });
    const text = await readFile(generated.path, "utf8");
    const statements = text.split("\n-\n").filter((s) => s.trim() !== "");
    expect(statements).toHaveLength(5);
    expect(generated.statements).toBe(5);
    let previousClosing: bigint | undefined;
    let total = 0;
    const signedBalance = (s: string, tag: string): bigint => {
      const match = new RegExp(`^:${tag}:([CD])(\\d{6})EUR([\\d,]+)$`, "m").exec(s);
      expect(match).not.toBeNull();
      return (match?.[1] === "D" ? -1n : 1n) * minor(match?.[3] ?? "");
    };
    for (const [i, s] of statements.entries()) {
      expect(s).toContain(`:25:${GENERATED_ACCOUNT.iban}`);
      expect(s).toContain(`:28C:${String(i + 1).padStart(5, "0")}/1`);
      const opening = signedBalance(s, "60F");
      if (previousClosing !== undefined) expect(opening).toBe(previousClosing);
      const lines = [...s.matchAll(/^:61:(\d{6})(\d{4})([CD])([\d,]+)NTRF/gm)];
      expect(lines.length).toBeLessThanOrEqual(500);
      total += lines.length;
      const sum = lines.reduce((acc, [, , , mark, amount = ""]) => acc + (mark === "D" ? -1n : 1n) * minor(amount), 0n);
      previousClosing = signedBalance(s, "62F");
      expect(opening + sum).toBe(previousClosing);
      // :86: continuation lines stay inside SWIFT's 65 characters.
      for (const physical of s.split("\n")) expect(physical.length).toBeLessThanOrEqual(65);
    }
    expect(total).toBe(2_345);
    expect(previousClosing).toBe(generated.closingMinor);
    expect(text.endsWith("-\n")).toBe(true);
  });

  it("CSV: a header and N CRLF rows whose signed amounts sum to the totals; quotes and commas quoted; the profile is valid", async () => {
    const generated = await writeCsv({ path: file("g.csv"), lines: 1_000, seed: 5 });
    const text = await readFile(generated.path, "utf8");
    const rows = text.split("\r\n");
    expect(rows.pop()).toBe("");
    expect(rows).toHaveLength(1_001);
    const header = rows[0]?.split(",") ?? [];
    const amountColumn = header.indexOf(GENERATED_CSV_PROFILE.columns.amount);
    expect(amountColumn).toBeGreaterThan(0);
    let credits = 0n;
    let debits = 0n;
    let quoted = 0;
    for (const row of rows.slice(1)) {
      // Quoted fields are last (description) or a name with a comma; amounts sit before any of them.
      const amount = row.split(",")[amountColumn] ?? "";
      if (amount.startsWith("-")) debits += minor(amount.slice(1));
      else credits += minor(amount);
      if (row.includes('"')) {
        quoted += 1;
        expect(row).toMatch(/"(?:[^"]|"")*"/);
      }
    }
    expect({ credits, debits }).toEqual({ credits: generated.credits.amountMinor, debits: generated.debits.amountMinor });
    expect(quoted).toBeGreaterThan(100);
    expect(csvProfileSchema.safeParse(GENERATED_CSV_PROFILE).success).toBe(true);
  });

  /** 4 KiB text chunks, as a decoder would hand them over. */
  async function* chunks(text: string): AsyncGenerator<string> {
    for (let i = 0; i < text.length; i += 4096) yield text.slice(i, i + 4096);
  }

  it.each([
    ["camt.053", () => writeCamt053({ path: file("c.xml"), lines: 400, seed: 11 })],
    ["mt940", () => writeMt940({ path: file("c.sta"), lines: 400, seed: 12, linesPerStatement: 90 })],
    ["csv", () => writeCsv({ path: file("c.csv"), lines: 400, seed: 13 })],
  ] as const)("%s through its importer and the statement checks: the same lines and totals, no check fails", async (format: StatementFormat, write) => {
    const generated = await write();
    const importer = importerFor(format);
    expect(importer?.detect((await readFile(generated.path, "utf8")).slice(0, 4096)) ?? "csv").toBe(format);
    const csvProfile = format === "csv" ? csvProfileSchema.parse(GENERATED_CSV_PROFILE) : undefined;
    let tally = emptyTally();
    let previous: PreviousStatement | null = null;
    let statements = 0;
    const totals = { credits: 0n, debits: 0n, lines: 0 };
    const results: CheckResult[] = [];
    for await (const item of importer?.parse(chunks(await readFile(generated.path, "utf8")), { limits: IMPORT_LIMITS_DEFAULT, format, csvProfile }) ?? []) {
      if (item.kind === "line") {
        tallyLine(tally, item.line);
        totals.lines += 1;
        if (item.line.side === "credit") totals.credits += item.line.amountMinor;
        else totals.debits += item.line.amountMinor;
      } else if (item.kind === "statement") {
        const { statement } = item;
        statements += 1;
        results.push(...checkStatement({ statement, tally, bankAccount: { currency: "EUR", iban: GENERATED_ACCOUNT.iban, accountNumber: null }, previous, fileControlTotals: [] }));
        const closing = statement.closingBalance;
        previous = {
          closingBalance: closing === null ? null : { amountMinor: closing.amountMinor.toString(), side: closing.side, currency: closing.currency, date: closing.date },
          sequenceNumber: statement.sequenceNumber,
          periodEnd: statement.periodEnd,
          pageNumber: statement.pageNumber,
        };
        tally = emptyTally();
      }
    }
    expect({ statements, ...totals }).toEqual({ statements: generated.statements, lines: 400, credits: generated.credits.amountMinor, debits: generated.debits.amountMinor });
    expect(results.filter((r) => r.status === "failed")).toEqual([]);
    // Balance and period are judged on every format; continuity and sequence on MT940's chained statements.
    expect(results.filter((r) => r.check === "period").every((r) => r.status === "passed")).toBe(true);
    if (format !== "csv") expect(results.filter((r) => r.check === "balance").every((r) => r.status === "passed")).toBe(true);
    if (format === "mt940") expect(results.filter((r) => r.check === "continuity" && r.status === "passed")).toHaveLength(generated.statements - 1);
  });
});
