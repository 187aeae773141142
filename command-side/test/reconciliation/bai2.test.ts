// Proves the BAI2 importer reads the real moov-io sample exactly (every
// detail's amount, side, type code, dates and text; both accounts; the
// account, group and file control totals as the spec sums them), that
// chunking and line endings do not change what it reads, that it reads
// what the spec allows beyond the sample (88 continuations mid-record and
// in text, funds types S/V/D, balances, reversals, currencies, several
// groups), and that every malformed file fails with its code at its line:
// truncation at any character, wrong record counts, bad amounts and dates,
// records out of order, each limit at its bound and one beyond.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TrueupError } from "@trueup/contracts";
import type { ParsedControlTotal, StatementItem } from "@trueup/contracts";
import { bai2Importer } from "../../src/reconciliation/importers/bai2/index.ts";
import { RECORD_LENGTH_MAX } from "../../src/reconciliation/importers/bai2/records.ts";
import { detectFormat, importerFor } from "../../src/reconciliation/importers/index.ts";
import { fixture, itemsOrLocatedError, lines, mutations, parseAll, parseError, sameResultWhateverTheChunks, statements } from "./bai2-ofx-support.ts";

const SAMPLE = fixture("bai2/moov-sample1.txt");

/** What moov-sample1.txt says, read by hand from the file: [type code, amount in cents, text] per 16 record. */
const SAMPLE_DETAILS: readonly (readonly [string, bigint, string])[][] = [
  [
    ["409", 2500n, "RETURNED CHEQUE"],
    ["409", 90000n, "RTN-UNKNOWN"],
    ["409", 500n, "RTD CHQ SERVICE CHRG"],
    ["108", 203500n, "TFR 1020 0345678"],
    ["108", 2500n, "MACLEOD MALL"],
    ["108", 2500n, "MASCOUCHE QUE"],
    ["409", 20000n, "1000 ISLANDS MALL"],
    ["409", 90000n, "PENHORA MALL"],
    ["409", 2000n, "CAPILANO MALL"],
    ["409", 2500n, "GALERIES LA CAPITALE"],
    ["409", 1000n, "PLAZA ROCK FOREST"],
  ],
  [
    ["108", 11500n, "TFR 1020 0345678"],
    ["108", 100000n, "MONTREAL"],
    ["409", 100000n, "GRANDFALL NB"],
    ["409", 9000n, "HAMILTON ON"],
    ["409", 2000n, "WOODSTOCK NB"],
    ["409", 500n, "GALERIES RICHELIEU"],
  ],
];

function fileTotals(items: readonly StatementItem[]): readonly ParsedControlTotal[] {
  const last = items[items.length - 1];
  if (last?.kind !== "file") throw new Error("the last item is not the file item");
  return last.controlTotals;
}

/** A small valid file around the given account records (03…49 without the 49), with correct trailers. */
function bai2File(accounts: readonly (readonly string[])[], options: { groupCurrency?: string; groups?: number } = {}): string {
  const out = ["01,SENDER,RECEIVER,240105,1200,7,,,2/"];
  for (let g = 0; g < (options.groups ?? 1); g++) {
    const groupRecords: string[] = [`02,RECEIVER,ORIGIN,1,240104,,${options.groupCurrency ?? "USD"},2/`];
    for (const account of accounts) {
      const physical = account.flatMap((record) => record.split("\n"));
      const sum = physical.reduce((total, record) => total + amountsOf(record), 0n);
      groupRecords.push(...physical, `49,${sum},${physical.length + 1}/`);
    }
    const groupSum = accounts.reduce((total, account) => total + account.flatMap((record) => record.split("\n")).reduce((t, r) => t + amountsOf(r), 0n), 0n);
    groupRecords.push(`98,${groupSum},${accounts.length},${groupRecords.length + 1}/`);
    out.push(...groupRecords);
  }
  const fileSum = BigInt(options.groups ?? 1) * accounts.reduce((total, account) => total + account.flatMap((record) => record.split("\n")).reduce((t, r) => t + amountsOf(r), 0n), 0n);
  out.push(`99,${fileSum},${options.groups ?? 1},${out.length + 1}/`);
  return out.join("\n") + "\n";
}

/** The amounts a test record contributes to control totals: written as `amount=` hints would be brittle, so each test record states its own. */
function amountsOf(record: string): bigint {
  const hint = /#(-?\d+)$/.exec(record);
  return hint?.[1] === undefined ? 0n : BigInt(hint[1]);
}

/** Strips the control-total hints (`#123`) from the generated file. */
function clean(text: string): string {
  return text.replace(/#-?\d+$/gm, "");
}

describe("BAI2: the moov-io sample", () => {
  it("reads both accounts, all 17 details, and control totals that add up", async () => {
    const items = await parseAll(bai2Importer, SAMPLE);
    const sections = statements(items);
    expect(sections).toHaveLength(2);
    for (const [index, expected] of SAMPLE_DETAILS.entries()) {
      const sectionLines = lines(items.filter((item) => item.kind === "line" && item.section === index));
      expect(sectionLines.map((line) => [line.bankCodes.bai2, line.amountMinor, line.description])).toEqual(expected);
      for (const line of sectionLines) {
        expect(line.side).toBe(line.bankCodes.bai2 === "108" ? "credit" : "debit");
        expect(line.currency).toBe("CAD");
        expect(line.bookingDate).toBe("2006-03-17");
        expect(line.valueDate).toBe(index === 0 ? "2006-03-16" : "2006-03-17");
        expect(line.reversal).toBe(false);
        expect(line.bankReference).toBeNull();
        expect(line.attributes).toEqual({ fundsType: "V" });
        expect(SAMPLE).toContain(line.raw);
      }
      const statement = sections[index];
      expect(statement).toMatchObject({
        format: "bai2",
        section: index,
        account: { accountNumber: "10200123456", bankId: "0004", currency: "CAD", iban: null },
        currency: "CAD",
        statementReference: "001",
        createdAt: "2006-03-21T08:29",
        periodStart: "2006-03-17",
        periodEnd: "2006-03-17",
        openingBalance: null,
        closingBalance: null,
        availableBalance: { amountMinor: 0n, side: "credit", currency: "CAD", date: "2006-03-17" },
        lineCount: expected.length,
      });
      // The 03 record's own summaries (100 total credits, 400 total debits) equal the details read.
      const credits = sectionLines.filter((line) => line.side === "credit").reduce((sum, line) => sum + line.amountMinor, 0n);
      const debits = sectionLines.filter((line) => line.side === "debit").reduce((sum, line) => sum + line.amountMinor, 0n);
      expect([credits, debits]).toEqual(index === 0 ? [208500n, 208500n] : [111500n, 111500n]);
    }
    expect(sections.map((statement) => statement.controlTotals.map((total) => [total.declaredMinor, total.computedMinor, total.location.line]))).toEqual([
      [[834000n, 834000n, 16]],
      [[446000n, 446000n, 25]],
    ]);
    expect(fileTotals(items).map((total) => [total.scope, total.declaredMinor, total.computedMinor, total.location])).toEqual([
      ["group 1", 1280000n, 1280000n, { line: 26, record: "98" }],
      ["file", 1280000n, 1280000n, { line: 27, record: "99" }],
    ]);
    expect(items.map((item) => item.kind)).toEqual([...Array<string>(11).fill("line"), "statement", ...Array<string>(6).fill("line"), "statement", "file"]);
  });

  it("locates each detail at its 16 record's line", async () => {
    const items = await parseAll(bai2Importer, SAMPLE);
    expect(lines(items).map((line) => line.location.line)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 19, 20, 21, 22, 23, 24]);
    expect(lines(items).every((line) => line.location.record === "16")).toBe(true);
  });

  it("gives the same items in 1-character, 7-character and whole chunks, with LF, CRLF, CR and a final newline or none", async () => {
    const whole = await parseAll(bai2Importer, SAMPLE);
    const variants = [SAMPLE + "\n", SAMPLE.replace(/\n/g, "\r\n"), SAMPLE.replace(/\n/g, "\r\n") + "\r\n", SAMPLE.replace(/\n/g, "\r")];
    for (const chunkSize of [1, 7, 4096]) {
      expect(await parseAll(bai2Importer, SAMPLE, { chunkSize })).toEqual(whole);
    }
    for (const variant of variants) {
      const items = await parseAll(bai2Importer, variant, { chunkSize: 1 });
      expect(lines(items).map((line) => ({ ...line, raw: line.raw.replace(/\r\n?/g, "\n") }))).toEqual(lines(whole));
      expect(statements(items)).toEqual(statements(whole));
    }
  });

  it("is detected from its first record, and is the registry's importer for bai2", () => {
    expect(detectFormat(SAMPLE)).toBe("bai2");
    expect(detectFormat("\r\n" + SAMPLE)).toBe("bai2");
    expect(detectFormat("01;a;b;240101;\n")).toBeUndefined();
    expect(detectFormat("date,amount\n01,2\n")).toBeUndefined();
    expect(importerFor("bai2")).toBe(bai2Importer);
  });
});

describe("BAI2: what the spec allows beyond the sample", () => {
  it("reads text with commas and slashes continued on 88s, and references split from their record by an 88", async () => {
    const text = clean(bai2File([[
      "03,123456789,,010,+100000,,,015,+250000,,,045,-5000,,/#345000",
      "16,195,150000,0,BANKREF1,CUSTREF1,WIRE FROM ACME, INC/PO 123\n88,INVOICE 42/#150000",
      "16,409,500,V,240104,1315/\n88,REF9,CUST9,FEE/#500",
    ]]));
    const items = await parseAll(bai2Importer, text, { chunkSize: 3 });
    const [wire, fee] = lines(items);
    expect(wire).toMatchObject({ side: "credit", amountMinor: 150000n, bankReference: "BANKREF1", customerReference: "CUSTREF1", description: "WIRE FROM ACME, INC/PO 123 INVOICE 42", currency: "USD", attributes: { fundsType: "0" } });
    expect(wire?.raw).toBe("16,195,150000,0,BANKREF1,CUSTREF1,WIRE FROM ACME, INC/PO 123\n88,INVOICE 42/");
    expect(wire?.location).toEqual({ line: 4, record: "16" });
    expect(fee).toMatchObject({ side: "debit", amountMinor: 500n, bankReference: "REF9", customerReference: "CUST9", description: "FEE", valueDate: "2024-01-04", bookingDate: "2024-01-04", attributes: { fundsType: "V", valueTime: "1315" } });
    expect(statements(items)[0]).toMatchObject({
      openingBalance: { amountMinor: 100000n, side: "credit", currency: "USD", date: "2024-01-04" },
      closingBalance: { amountMinor: 250000n, side: "credit" },
      availableBalance: { amountMinor: 5000n, side: "debit" },
      controlTotals: [{ declaredMinor: 495500n, computedMinor: 495500n }],
    });
  });

  it("reads funds types S and D with their amounts, Z and defaulted ones without", async () => {
    const text = clean(bai2File([[
      "03,1,USD/",
      "16,142,1000,S,600,300,100,R1,,ACH/#1000",
      "16,142,2000,D,2,1,1500,3,500,R2,,ACH/#2000",
      "16,142,3000,Z,R3,,/#3000",
      "16,142,4000,,R4,,/#4000",
    ]]));
    const found = lines(await parseAll(bai2Importer, text));
    expect(found.map((line) => [line.bankReference, line.attributes, line.description])).toEqual([
      ["R1", { fundsType: "S", availability: "0:600;1:300;2:100" }, "ACH"],
      ["R2", { fundsType: "D", availability: "1:1500;3:500" }, "ACH"],
      ["R3", { fundsType: "Z" }, null],
      ["R4", {}, null],
    ]);
  });

  it("sets the side and the reversal mark from the type code, skips non-monetary details, and refuses codes without a direction", async () => {
    const text = clean(bai2File([[
      "03,1,USD/",
      "16,252,100,,A,,debit reversal/#100",
      "16,552,200,,B,,credit reversal/#200",
      "16,930,300,,C,,custom credit/#300",
      "16,970,400,,D,,custom debit/#400",
      "16,890,,,,,NOTE ONLY/",
      "16,721,500,,E,,loan interest applied/#500",
    ]]));
    const items = await parseAll(bai2Importer, text);
    expect(lines(items).map((line) => [line.bankReference, line.side, line.reversal])).toEqual([
      ["A", "credit", true],
      ["B", "debit", true],
      ["C", "credit", false],
      ["D", "debit", false],
      ["E", "credit", false],
    ]);
    expect(statements(items)[0]?.lineCount).toBe(5);
    for (const code of ["010", "905", "700", "800"]) {
      const error = await parseError(bai2Importer, clean(bai2File([["03,1,USD/", `16,${code},100,,A,,x/`]])));
      expect([error.code, error.location]).toEqual(["STATEMENT_MALFORMED", { line: 4, record: "16" }]);
    }
  });

  it("takes the account's currency, else the group's, else USD, and keeps amounts in that currency's minor units", async () => {
    const account = (currency: string) => [`03,1,${currency}/`, "16,108,1000,,A,,/#1000"];
    const inUsd = await parseAll(bai2Importer, clean(bai2File([account("")], { groupCurrency: "" })));
    expect(lines(inUsd)[0]?.currency).toBe("USD");
    const inGroup = await parseAll(bai2Importer, clean(bai2File([account("")], { groupCurrency: "JPY" })));
    expect(lines(inGroup)[0]).toMatchObject({ currency: "JPY", amountMinor: 1000n });
    const own = await parseAll(bai2Importer, clean(bai2File([account("EUR")], { groupCurrency: "JPY" })));
    expect(statements(own)[0]).toMatchObject({ currency: "EUR", account: { currency: "EUR" } });
    const unknown = await parseError(bai2Importer, clean(bai2File([account("XYZ")])));
    expect([unknown.code, unknown.location]).toEqual(["STATEMENT_MALFORMED", { line: 3, record: "03" }]);
  });

  it("reads several groups and accounts, numbering sections across the file and totalling each group", async () => {
    const text = clean(bai2File([["03,1,USD/", "16,108,100,,A,,/#100"], ["03,2,USD/", "16,409,50,,B,,/#50"]], { groups: 2 }));
    const items = await parseAll(bai2Importer, text);
    expect(statements(items).map((statement) => [statement.section, statement.account.accountNumber, statement.lineCount])).toEqual([
      [0, "1", 1], [1, "2", 1], [2, "1", 1], [3, "2", 1],
    ]);
    expect(fileTotals(items).map((total) => [total.scope, total.declaredMinor, total.computedMinor])).toEqual([
      ["group 1", 150n, 150n], ["group 2", 150n, 150n], ["file", 300n, 300n],
    ]);
  });

  it("keeps a group status other than update on each line: the importer does not apply deletions or corrections", async () => {
    const text = clean(bai2File([["03,1,USD/", "16,108,100,,A,,/#100"]])).replace("02,RECEIVER,ORIGIN,1,", "02,RECEIVER,ORIGIN,3,");
    expect(lines(await parseAll(bai2Importer, text))[0]?.attributes).toEqual({ groupStatus: "correction" });
  });

  it("reports control totals that do not add up without refusing the file: the statement checks judge them", async () => {
    const wrong = SAMPLE.replace("49,+00000000000834000,14/", "49,+00000000000834001,14/").replace("99,+00000000001280000,1,27/", "99,-00000000001280000,1,27/");
    const items = await parseAll(bai2Importer, wrong);
    expect(statements(items)[0]?.controlTotals[0]).toMatchObject({ declaredMinor: 834001n, computedMinor: 834000n });
    expect(fileTotals(items)[1]).toMatchObject({ scope: "file", declaredMinor: -1280000n, computedMinor: 1280000n });
  });
});

describe("BAI2: malformed files fail at their line", () => {
  it("fails on every truncation: at each line boundary and inside every record", async () => {
    const complete = await parseAll(bai2Importer, SAMPLE);
    for (let length = 0; length < SAMPLE.length; length++) {
      const result = await itemsOrLocatedError(bai2Importer, SAMPLE.slice(0, length));
      if (length === SAMPLE.length - 1) {
        // "…,1,27" without the final "/": every field is there, so it reads as the whole file.
        expect(result).toEqual(complete);
        continue;
      }
      expect(result, `prefix of ${length} characters`).toBeInstanceOf(TrueupError);
      const error = result as TrueupError;
      expect(["STATEMENT_MALFORMED", "STATEMENT_RECORD_COUNT_MISMATCH", "STATEMENT_AMOUNT_INVALID", "STATEMENT_DATE_INVALID", "STATEMENT_EMPTY"]).toContain(error.code);
    }
  });

  it("names a missing trailer", async () => {
    const withoutFileTrailer = SAMPLE.split("\n").slice(0, -1).join("\n");
    const error = await parseError(bai2Importer, withoutFileTrailer);
    expect([error.code, error.message]).toEqual(["STATEMENT_MALFORMED", "line 26: the file ends without a file trailer (99): it is truncated"]);
    const withoutAccountTrailer = SAMPLE.split("\n").slice(0, 15).join("\n");
    expect((await parseError(bai2Importer, withoutAccountTrailer)).message).toContain("account trailer (49)");
    const accountTrailerDropped = SAMPLE.split("\n").filter((line) => !line.startsWith("49,+00000000000446000")).join("\n");
    const dropped = await parseError(bai2Importer, accountTrailerDropped);
    expect([dropped.code, dropped.location]).toEqual(["STATEMENT_MALFORMED", { line: 25, record: "98" }]);
  });

  it("refuses wrong record counts in the 49, 98 and 99 trailers, and a wrong account or group count", async () => {
    const cases: [string, string, number, string][] = [
      ["49,+00000000000834000,14/", "49,+00000000000834000,13/", 16, "49"],
      ["49,+00000000000446000,9/", "49,+00000000000446000,10/", 25, "49"],
      ["98,+00000000001280000,2,25/", "98,+00000000001280000,2,24/", 26, "98"],
      ["98,+00000000001280000,2,25/", "98,+00000000001280000,3,25/", 26, "98"],
      ["99,+00000000001280000,1,27/", "99,+00000000001280000,1,28/", 27, "99"],
      ["99,+00000000001280000,1,27/", "99,+00000000001280000,2,27/", 27, "99"],
    ];
    for (const [from, to, line, record] of cases) {
      const error = await parseError(bai2Importer, SAMPLE.replace(from, to));
      expect([error.code, error.location]).toEqual(["STATEMENT_RECORD_COUNT_MISMATCH", { line, record }]);
    }
    const counted = await parseError(bai2Importer, SAMPLE.replace("49,+00000000000834000,14/", "49,+00000000000834000,13/"));
    expect(counted.detail).toMatchObject({ declared: 13, counted: 14 });
  });

  it("refuses bad amounts, dates, times, type codes and funds types at their field", async () => {
    const cases: [string, string, string, number][] = [
      ["16,409,000000000002500,V,060316", "16,409,0000000000025X0,V,060316", "STATEMENT_AMOUNT_INVALID", 5],
      ["16,409,000000000002500,V,060316", "16,409,-000000000002500,V,060316", "STATEMENT_AMOUNT_INVALID", 5],
      ["16,409,000000000002500,V,060316", "16,409,,V,060316", "STATEMENT_AMOUNT_INVALID", 5],
      ["16,409,000000000002500,V,060316", "16,409,000000000002500,V,060231", "STATEMENT_DATE_INVALID", 5],
      ["16,409,000000000002500,V,060316,", "16,409,000000000002500,V,060316,2561", "STATEMENT_MALFORMED", 5],
      ["16,409,000000000002500,V,060316", "16,4O9,000000000002500,V,060316", "STATEMENT_MALFORMED", 5],
      ["16,409,000000000002500,V,060316", "16,409,000000000002500,Q,060316", "STATEMENT_MALFORMED", 5],
      ["02,12345,0004,1,060317", "02,12345,0004,1,061317", "STATEMENT_DATE_INVALID", 2],
      ["02,12345,0004,1,060317", "02,12345,0004,9,060317", "STATEMENT_MALFORMED", 2],
      ["01,0004,12345,060321", "01,0004,12345,060230", "STATEMENT_DATE_INVALID", 1],
      ["49,+00000000000834000,14/", "49,+0000000000083A000,14/", "STATEMENT_AMOUNT_INVALID", 16],
      ["03,10200123456,CAD,040,+000000000000", "03,10200123456,CAD,040,+0000000000X0", "STATEMENT_AMOUNT_INVALID", 3],
      ["88,100,000000000208500,00003,V,060316,,400", "88,100,000000000208500,00003,V,060399,,400", "STATEMENT_DATE_INVALID", 4],
    ];
    for (const [from, to, code, line] of cases) {
      expect(SAMPLE).toContain(from);
      const error = await parseError(bai2Importer, SAMPLE.replace(from, to));
      expect([error.code, error.location.line], to).toEqual([code, line]);
    }
  });

  it("refuses records out of order, unknown records, a lone 88, a record after the trailer, another version, extra fields", async () => {
    const physical = SAMPLE.split("\n");
    const cases: [string, string, number][] = [
      ["88 first", ["88,1/", ...physical].join("\n"), 1],
      ["16 before its account", [physical[0], physical[1], "16,108,1,,,,/", ...physical.slice(2)].join("\n"), 3],
      ["02 inside a group", [physical[0], physical[1], physical[1], ...physical.slice(2)].join("\n"), 3],
      ["03 inside an account", [...physical.slice(0, 4), physical[2], ...physical.slice(4)].join("\n"), 5],
      ["unknown record", [...physical.slice(0, 4), "17,1,2/", ...physical.slice(4)].join("\n"), 5],
      ["not a record", [...physical.slice(0, 4), "hello", ...physical.slice(4)].join("\n"), 5],
      ["a record after 99", [...physical, "01,0004,12345,060321,0829,001,80,1,2/"].join("\n"), 28],
      ["BAI version 3", SAMPLE.replace("01,0004,12345,060321,0829,001,80,1,2/", "01,0004,12345,060321,0829,001,80,1,3/"), 1],
      ["an extra field", SAMPLE.replace("49,+00000000000834000,14/", "49,+00000000000834000,14,7/"), 16],
      ["no account number", SAMPLE.replace("03,10200123456,CAD,040", "03,,CAD,040"), 3],
      ["a second file header", [physical[0], ...physical].join("\n"), 2],
    ];
    for (const [name, text, line] of cases) {
      const error = await parseError(bai2Importer, text);
      expect([error.code, error.location.line], name).toEqual(["STATEMENT_MALFORMED", line]);
    }
  });

  it("says a file without any account is empty", async () => {
    const error = await parseError(bai2Importer, "01,A,B,240101,0000,1,,,2/\n02,B,A,1,240101,,USD,/\n98,0,0,2/\n99,0,1,4/\n");
    expect([error.code, error.location]).toEqual(["STATEMENT_EMPTY", { line: 4, record: "99" }]);
  });

  it("refuses a bank reference longer than the store holds instead of cutting it, and cuts a long text", async () => {
    const longReference = "R".repeat(501);
    const error = await parseError(bai2Importer, clean(bai2File([["03,1,USD/", `16,108,100,,${longReference},,x/#100`]])));
    expect([error.code, error.location]).toEqual(["STATEMENT_MALFORMED", { line: 4, record: "16" }]);
    const atBound = await parseAll(bai2Importer, clean(bai2File([["03,1,USD/", `16,108,100,,${"R".repeat(500)},,x/#100`]])));
    expect(lines(atBound)[0]?.bankReference).toHaveLength(500);
    const longText = "T".repeat(2_100);
    const cut = await parseAll(bai2Importer, clean(bai2File([["03,1,USD/", `16,108,100,,R,,${longText}/#100`]])));
    expect(lines(cut)[0]?.description).toHaveLength(2_000);
    expect(lines(cut)[0]?.raw).toContain(longText);
  });
});

describe("BAI2: limits", () => {
  it("reads 17 lines with linesMax 17 and fails at the 17th line with linesMax 16", async () => {
    expect(lines(await parseAll(bai2Importer, SAMPLE, { limits: { linesMax: 17 } }))).toHaveLength(17);
    const error = await parseError(bai2Importer, SAMPLE, { limits: { linesMax: 16 } });
    expect([error.code, error.location, error.detail?.limit]).toEqual(["STATEMENT_TOO_MANY_LINES", { line: 24, record: "16" }, 16]);
  });

  it("fails a physical line beyond lineLengthMax, and reads one at it", async () => {
    const lengths = SAMPLE.split("\n").map((line) => line.length);
    const longest = Math.max(...lengths);
    expect(lines(await parseAll(bai2Importer, SAMPLE, { limits: { lineLengthMax: longest }, chunkSize: 5 }))).toHaveLength(17);
    const error = await parseError(bai2Importer, SAMPLE, { limits: { lineLengthMax: longest - 1 }, chunkSize: 5 });
    expect([error.code, error.location.line]).toEqual(["STATEMENT_LINE_TOO_LONG", lengths.indexOf(longest) + 1]);
  });

  it("fails a record whose 88 continuations make it longer than RECORD_LENGTH_MAX", async () => {
    const continuation = "88," + "X".repeat(97);
    const count = Math.ceil(RECORD_LENGTH_MAX / (continuation.length + 1));
    const text = clean(bai2File([["03,1,USD/", ["16,108,100,,R,,start", ...Array<string>(count).fill(continuation)].join("\n") + "#100"]]));
    const error = await parseError(bai2Importer, text);
    expect([error.code, error.location]).toEqual(["STATEMENT_LINE_TOO_LONG", { line: 4, record: "16" }]);
    const fewer = clean(bai2File([["03,1,USD/", ["16,108,100,,R,,start", ...Array<string>(count - 2).fill(continuation)].join("\n") + "#100"]]));
    expect(lines(await parseAll(bai2Importer, fewer))[0]?.raw.length).toBeLessThanOrEqual(RECORD_LENGTH_MAX);
  });
});

describe("BAI2: fuzz", () => {
  it("on thousands of mutations of real files, yields the same items or the same located TrueupError whatever the chunks, never another exception", async () => {
    const own = clean(bai2File([[
      "03,123456789,,010,+100000,,,015,+250000,,,045,-5000,,/#345000",
      "16,195,150000,S,100,50,0,BANKREF1,CUSTREF1,WIRE, INC/PO\n88,INVOICE 42/#150000",
      "16,409,500,D,1,2,500,REF9,CUST9,FEE/#500",
    ]]));
    const alphabet = ["0", "1", "9", ",", "/", "\n", "\r", "-", "+", "8", "V", "S", "D", "Z", " ", "A", "é", "\u0000"];
    for (const sample of [SAMPLE, own]) {
      await fc.assert(
        fc.asyncProperty(mutations(sample, alphabet), fc.constantFrom(1, 3, 64), async (text, chunkSize) => {
          await sameResultWhateverTheChunks(bai2Importer, text, chunkSize);
        }),
        { numRuns: 1000 },
      );
    }
  });
});
