// The MT940/MT942 importer on our own samples and on hostile input. Proves:
// the envelope {1:}{2:}{4: … -}{5:} and plain files, messages split by `-`,
// `-}` or just the next :20:; MT942 (:13D: :34F: :90D: :90C:) with a wrong
// entry count refused; RC/RD sides, funds codes, entry dates across a year
// end, the slash-style :86:; CRLF, LF, no final newline and 1-character
// chunks give the same items; and every broken input (a :61: cut at every
// position, bad amounts and dates, missing balances, limits at and one past
// their bound) is a TrueupError naming the line and the record, after the
// items before it.
import { describe, expect, it } from "vitest";
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { StatementItem } from "@trueup/contracts";
import { IMPORT_LIMITS_DEFAULT, detectFormat } from "../../src/reconciliation/importers/index.ts";
import { parseDetails } from "../../src/reconciliation/importers/mt940/details.ts";
import { mt940Importer } from "../../src/reconciliation/importers/mt940/index.ts";
import { chunked, itemsJson, locationOf, parse, parseError } from "./mt940-support.ts";

const MT942 = [
  "{1:F01BANKDEFFAXXX0000000000}{2:O9421200231215BANKDEFFAXXX00000000002312151200N}{3:{108:MT942}}{4:",
  ":20:INTRADAY1",
  ":21:NONREF",
  ":25:DE89370400440532013000",
  ":28C:17/1",
  ":34F:EURD0,",
  ":34F:EURC0,",
  ":13D:2312151200+0100",
  ":61:2312151215C1500,00NTRFNONREF//BANKREF00001",
  ":86:/EREF/E2E-1/REMI/USTD//Invoice 42/ORDP//NAME/ACME GmbH/IBAN/DE893704004405320",
  "13000/",
  ":61:2312151215ED250,5NDDTMANDATE-7//BANKREF00002",
  ":86:/EREF/NOTPROVIDED/REMI/STRD/CUR/RF18539007547034/BENM//NAME/Power Co/",
  ":90D:1EUR250,5",
  ":90C:1EUR1500,00",
  ":86:end of the report",
  "-}{5:{CHK:123456789ABC}}",
].join("\r\n");

// Value 31 Dec booked 2 Jan (next year), value 2 Jan booked 31 Dec (year before); RC, RD with a funds code.
const YEAR_END = [
  ":20:STMT-YE",
  ":25:NL91ABNA0417164300EUR",
  ":28C:00001/001",
  ":60F:C231231EUR1000,00",
  ":61:2312310102D100,NTRFREF1//B1",
  ":86:/TRCD/00100/EREF/E2E-YE/CNTP/NL91ABNA0417164300/ABNANL2A/J DOE/AMSTERDAM/REMI/USTD//Year end/",
  ":61:2401021231C50,NTRFNONREF//B2",
  "SUPPLEMENTARY",
  ":86:plain free text line one",
  "and line two",
  ":61:2401020102RC20,NMSCNONREF//B3",
  ":61:2401020102RDB30,NMSCNONREF//B4",
  ":62F:C240102EUR960,00",
  ":64:C240102EUR960,00",
  ":65:C240103EUR960,00",
  "-",
].join("\n");

/** A minimal valid MT940 around some :61:/:86: lines. */
function mt940(...body: string[]): string {
  return [":20:REF", ":25:12345678/999", ":28C:1/1", ":60F:C240101EUR100,00", ...body, ":62F:C240102EUR100,00", "-"].join("\n");
}

describe("MT942 in a SWIFT envelope", () => {
  it("reads the interim report: createdAt, currency from :34F:, expected debits, sums as control totals, no balances", async () => {
    const { lines, statements, items } = await parse(MT942);
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    expect(statement).toMatchObject({
      format: "mt942",
      currency: "EUR",
      statementReference: "INTRADAY1",
      sequenceNumber: "17",
      pageNumber: "1",
      createdAt: "2023-12-15T12:00+01:00",
      account: { iban: "DE89370400440532013000", accountNumber: null, currency: "EUR" },
      openingBalance: null,
      closingBalance: null,
      periodStart: "2023-12-15",
      periodEnd: "2023-12-15",
      lineCount: 2,
    });
    expect(statement?.controlTotals.map((t) => [t.scope, t.declaredMinor, t.computedMinor, t.location])).toEqual([
      ["debitEntries", 25_050n, 25_050n, { line: 14, record: ":90D:" }],
      ["creditEntries", 150_000n, 150_000n, { line: 15, record: ":90C:" }],
    ]);
    expect(lines.map((l) => [l.side, l.amountMinor, l.bankReference, l.customerReference, l.attributes.mark, l.bookingDate, l.valueDate])).toEqual([
      ["credit", 150_000n, "BANKREF00001", null, "C", "2023-12-15", "2023-12-15"],
      ["debit", 25_050n, "BANKREF00002", "MANDATE-7", "ED", "2023-12-15", "2023-12-15"],
    ]);
    expect(lines[0]).toMatchObject({
      endToEndId: "E2E-1",
      remittanceInformation: "Invoice 42",
      counterparty: { name: "ACME GmbH", iban: "DE89370400440532013000" },
      raw: ":61:2312151215C1500,00NTRFNONREF//BANKREF00001\n:86:/EREF/E2E-1/REMI/USTD//Invoice 42/ORDP//NAME/ACME GmbH/IBAN/DE893704004405320\n13000/",
      location: { line: 9, record: ":61:" },
    });
    expect(lines[1]).toMatchObject({ endToEndId: null, creditorReference: "RF18539007547034", remittanceInformation: null, counterparty: { name: "Power Co" } });
    expect(items.at(-1)).toEqual({ kind: "file", controlTotals: [] });
  });

  it("refuses a :90D: whose number of entries is not the number of debit lines", async () => {
    const error = await parseError(MT942.replace(":90D:1EUR", ":90D:2EUR"));
    expect(error.code).toBe("STATEMENT_RECORD_COUNT_MISMATCH");
    expect(error.detail).toMatchObject({ location: { line: 14, record: ":90D:" }, expected: "2", actual: "1" });
  });

  it("reports a wrong :90C: sum as a control total for the checks, not as an error", async () => {
    const { statements } = await parse(MT942.replace(":90C:1EUR1500,00", ":90C:1EUR1500,01"));
    expect(statements[0]?.controlTotals[1]).toMatchObject({ declaredMinor: 150_001n, computedMinor: 150_000n });
  });

  it("refuses an envelope whose text block is never closed (a truncated file)", async () => {
    const error = await parseError(MT942.slice(0, MT942.lastIndexOf("-}")));
    expect([error.code, locationOf(error)]).toEqual(["STATEMENT_MALFORMED", { line: 16 }]);
  });

  it("refuses an MT942 without :34F: (its lines would have no currency)", async () => {
    const error = await parseError(MT942.replace(/:34F:[^\r]*\r\n/g, ""));
    expect([error.code, locationOf(error)]).toEqual(["STATEMENT_MALFORMED", { line: 7, record: ":61:" }]);
  });
});

describe("MT940 line fields", () => {
  it("dates entries across a year end, RC as a debit reversal, RD as a credit reversal with its funds code", async () => {
    const { lines, statements } = await parse(YEAR_END);
    expect(lines.map((l) => [l.valueDate, l.bookingDate, l.side, l.reversal, l.amountMinor, l.attributes.mark, l.attributes.fundsCode ?? null])).toEqual([
      ["2023-12-31", "2024-01-02", "debit", false, 10_000n, "D", null],
      ["2024-01-02", "2023-12-31", "credit", false, 5_000n, "C", null],
      ["2024-01-02", "2024-01-02", "debit", true, 2_000n, "RC", null],
      ["2024-01-02", "2024-01-02", "credit", true, 3_000n, "RD", "B"],
    ]);
    expect(statements[0]).toMatchObject({
      account: { iban: "NL91ABNA0417164300", accountNumber: null },
      openingBalance: { amountMinor: 100_000n, side: "credit", date: "2023-12-31" },
      closingBalance: { amountMinor: 96_000n, date: "2024-01-02" },
      availableBalance: { amountMinor: 96_000n },
      periodStart: "2023-12-31",
      periodEnd: "2024-01-02",
    });
  });

  it("reads the slash-style :86: and free text, and supplementary details from the line after the :61:", async () => {
    const { lines } = await parse(YEAR_END);
    expect(lines[0]).toMatchObject({
      customerReference: "REF1",
      bankReference: "B1",
      endToEndId: "E2E-YE",
      remittanceInformation: "Year end",
      description: null,
      counterparty: { iban: "NL91ABNA0417164300", bic: "ABNANL2A", name: "J DOE" },
      bankCodes: { swift: "NTRF", proprietary: "00100" },
    });
    expect(lines[1]).toMatchObject({ description: "plain free text line one and line two", attributes: { supplementaryDetails: "SUPPLEMENTARY" } });
    expect(lines[1]?.raw).toBe(":61:2401021231C50,NTRFNONREF//B2\nSUPPLEMENTARY\n:86:plain free text line one\nand line two");
    expect(lines[2]?.raw).toBe(":61:2401020102RC20,NMSCNONREF//B3");
  });

  it("splits a German :86: only at `?` and two digits, across its lines, joining a repeated code and keeping unknown ones", () => {
    // `?S`, `?1?` and a `?2` cut at the line end are text; `?123` is code 12 then "3"; ?21 twice is one purpose, in order of appearance.
    const cut = parseDetails(["166?00GUT?SCHRIFT?1?2031?21EREF+E2E-9 SVWZ+Rech", "nung 42?2", "1 KREF+K1?99odd?32ACME?33 GmbH?123"], { line: 2, record: ":86:" });
    expect(cut).toMatchObject({
      description: "GUT?SCHRIFT?1",
      remittanceInformation: "Rechnung 42",
      endToEndId: "E2E-9",
      counterparty: { name: "ACME GmbH", iban: null, bic: null },
      proprietaryCode: "166",
      attributes: { bookingText: "GUT?SCHRIFT?1", customerReference: "K1", otherSubfields: "?99odd?123" },
    });
    // ?21 before ?20: the purpose follows the file, not the codes' order.
    const order = parseDetails(["835?21SVWZ+second?20first?20 again?64x?30DEUTDEFF?31DE89370400440532013000"], { line: 2, record: ":86:" });
    expect(order).toMatchObject({ remittanceInformation: "secondfirst again", counterparty: { iban: "DE89370400440532013000", bic: "DEUTDEFF" }, attributes: { otherSubfields: "?64x" } });
  });

  it("maps two-digit years 00-79 to 20xx and 80-99 to 19xx", async () => {
    const { lines } = await parse(mt940(":61:800101C1,NTRFNONREF", ":61:791231C1,NTRFNONREF"));
    expect(lines.map((l) => l.valueDate)).toEqual(["1980-01-01", "2079-12-31"]);
  });

  it("splits an over-long bank reference followed by text at SWIFT's 16 characters, and keeps a long one without spaces whole", async () => {
    const { lines } = await parse(mt940(":61:240101C1,NTRFNONREF//ABCDEFGHIJKLMNOP Card payment", ":61:240101C1,NTRFNONREF//ABCDEFGHIJKLMNOPQRSTUVW"));
    expect(lines.map((l) => [l.bankReference, l.attributes.supplementaryDetails ?? null])).toEqual([
      ["ABCDEFGHIJKLMNOP", "Card payment"],
      ["ABCDEFGHIJKLMNOPQRSTUVW", null],
    ]);
  });

  it("truncates a description beyond its stored bound and refuses an end-to-end id beyond it", async () => {
    const words = Array.from({ length: 60 }, () => "x".repeat(64)).join("\n");
    const { lines } = await parse(mt940(":61:240101C1,NTRFNONREF", `:86:${words}`));
    expect(lines[0]?.description).toHaveLength(STATEMENT_LINE_LIMITS.textLengthMax);
    const longRef = "E".repeat(STATEMENT_LINE_LIMITS.fieldLengthMax + 1);
    const error = await parseError(mt940(":61:240101C1,NTRFNONREF", `:86:/EREF/${longRef}/`));
    expect([error.code, locationOf(error)]).toEqual(["STATEMENT_MALFORMED", { line: 6, record: ":86:" }]);
  });
});

describe("messages and line endings", () => {
  const two = [":20:A", ":25:1/1", ":60F:C240101EUR1,", ":61:240101C1,NTRFNONREF", ":62F:C240101EUR2,", ":20:B", ":25:1/1", ":60F:C240101EUR2,", ":62F:C240101EUR2,"].join("\n");

  it("splits messages at the next :20: alone, and at `-` or `-}` lines, numbering sections from 0", async () => {
    for (const text of [two, two.replace("\n:20:B", "\n-\n:20:B"), two.replace("\n:20:B", "\n\n-\n\n:20:B")]) {
      const { statements, items } = await parse(text);
      expect(statements.map((s) => [s.section, s.statementReference, s.lineCount])).toEqual([
        [0, "A", 1],
        [1, "B", 0],
      ]);
      expect(items[0]).toMatchObject({ kind: "line", section: 0 });
    }
    const enveloped = `{1:F01X}{2:I940X}{4:\n${two.replace("\n:20:B", "\n-}\n{1:F01X}{2:I940X}{4:\n:20:B")}\n-}`;
    expect((await parse(enveloped)).statements.map((s) => s.format)).toEqual(["mt940", "mt940"]);
  });

  it("skips ABN AMRO's BIC / 940 / BIC header before each message, and detects the file by it", async () => {
    const abn = `ABNANL2A\r\n940\r\nABNANL2A\r\n${YEAR_END.replace(/\n/g, "\r\n")}\r\nABNANL2A\r\n940\r\nABNANL2A\r\n${YEAR_END.replace(/\n/g, "\r\n")}`;
    const { statements } = await parse(abn);
    expect(statements.map((s) => [s.section, s.statementReference, s.lineCount, s.location.line])).toEqual([
      [0, "STMT-YE", 4, 4],
      [1, "STMT-YE", 4, 23],
    ]);
    expect(detectFormat(abn)).toBe("mt940");
    // Outside that header position, a bare BIC line inside a message is still a continuation, and text before a message is refused.
    const stray = await parseError(`HELLO\n${YEAR_END}`);
    expect([stray.code, locationOf(stray)]).toEqual(["STATEMENT_MALFORMED", { line: 1 }]);
  });

  it("gives the same items with LF, CRLF, CR, trailing blank lines, no final newline, and in 1-character chunks", async () => {
    const reference = itemsJson((await parse(YEAR_END)).items);
    const variants = [YEAR_END.replace(/\n/g, "\r\n"), YEAR_END.replace(/\n/g, "\r"), `${YEAR_END}\n\n\n`, YEAR_END.replace(/\n-$/, "")];
    for (const text of variants) expect(itemsJson((await parse(text)).items)).toBe(reference);
    // Leading blank lines only move the line numbers.
    const shifted = await parse(`\n\r\n${YEAR_END}`);
    expect(shifted.lines.map((l) => l.location.line)).toEqual((await parse(YEAR_END)).lines.map((l) => l.location.line + 2));
    expect(itemsJson((await parse(YEAR_END, { chunkSize: 1 })).items)).toBe(reference);
    const mt942 = itemsJson((await parse(MT942)).items);
    expect(itemsJson((await parse(MT942.replace(/\r\n/g, "\n"), { chunkSize: 1 })).items)).toBe(mt942);
  });
});

describe("items before a fault", () => {
  // 150 lines, then a broken one: more than one run of items (ITEMS_PER_RUN_MAX) inside a single chunk.
  const good = Array.from({ length: 150 }, (_, i) => `:61:240101C${i + 1},NTRFREF${i}\n:86:line ${i}`);
  const text = [":20:A", ":25:1/1", ":60F:C240101EUR1,", ...good, ":61:240101C1,NTRF", ":62F:C240101EUR2,"].join("\n");

  /** The items the importer yields until it throws, and what it throws. */
  async function itemsUntilFault(chunkSize: number): Promise<{ items: StatementItem[]; fault: unknown }> {
    const items: StatementItem[] = [];
    try {
      for await (const item of mt940Importer.parse(chunked(text, chunkSize), { format: "mt940", limits: IMPORT_LIMITS_DEFAULT })) items.push(item);
    } catch (fault) {
      return { items, fault };
    }
    return { items, fault: undefined };
  }

  it("come out, in file order, before the error, whatever the chunking", async () => {
    for (const chunkSize of [1 << 20, 7, 1]) {
      const { items, fault } = await itemsUntilFault(chunkSize);
      expect(fault).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { line: 304, record: ":61:" } } });
      expect(items.map((item) => (item.kind === "line" ? item.line.customerReference : item.kind))).toEqual(good.map((_, i) => `REF${i}`));
    }
  });
});

describe("hostile input", () => {
  const cutLine = ":61:0709040904CR300,NTRFTFNr 40005 MSGID//0724710345313905";

  it("refuses a :61: cut at any position up to its transaction type and owner reference, at its line", async () => {
    const mandatoryEnd = cutLine.indexOf("NTRF") + 4;
    for (let cut = 4; cut <= mandatoryEnd; cut++) {
      const error = await parseError(mt940(cutLine.slice(0, cut)));
      expect([cut, error.code, locationOf(error)]).toEqual([cut, "STATEMENT_MALFORMED", { line: 5, record: ":61:" }]);
    }
    for (let cut = mandatoryEnd + 1; cut <= cutLine.length; cut++) {
      expect((await parse(mt940(cutLine.slice(0, cut)))).lines).toHaveLength(1);
    }
  });

  it.each([
    ["1.000,00", "STATEMENT_AMOUNT_INVALID"],
    [",,", "STATEMENT_AMOUNT_INVALID"],
    ["1,001", "STATEMENT_AMOUNT_INVALID"],
    ["1234567890123,45", "STATEMENT_AMOUNT_INVALID"],
    ["", "STATEMENT_MALFORMED"],
  ])("refuses the amount %j in a :61: and in a balance (%s)", async (amount, code) => {
    const inLine = await parseError(mt940(`:61:240101C${amount}NTRFNONREF`));
    expect([inLine.code, locationOf(inLine)]).toEqual([code, { line: 5, record: ":61:" }]);
    const inBalance = await parseError(mt940().replace(":60F:C240101EUR100,00", `:60F:C240101EUR${amount}`));
    expect([inBalance.code, locationOf(inBalance)]).toEqual([code, { line: 4, record: ":60F:" }]);
  });

  it.each([
    ["a value date", ":61:991331C1,NTRFNONREF", 5, ":61:"],
    ["an entry date", ":61:2401011332C1,NTRFNONREF", 5, ":61:"],
    ["29 Feb of a common year", ":61:2302280229C1,NTRFNONREF", 5, ":61:"],
  ])("refuses an impossible date: %s", async (_what, line, at, record) => {
    const error = await parseError(mt940(line));
    expect([error.code, locationOf(error)]).toEqual(["STATEMENT_DATE_INVALID", { line: at, record }]);
  });

  it("refuses a balance dated 991331 and an unknown currency", async () => {
    const date = await parseError(mt940().replace(":62F:C240102", ":62F:C991331"));
    expect([date.code, locationOf(date)]).toEqual(["STATEMENT_DATE_INVALID", { line: 5, record: ":62F:" }]);
    const currency = await parseError(mt940().replace("EUR100,00\n:62F", "XXY100,00\n:62F"));
    expect([currency.code, locationOf(currency)]).toEqual(["STATEMENT_AMOUNT_INVALID", { line: 4, record: ":60F:" }]);
  });

  it("refuses a message without :60F:, without :62F:, without :25:, or with a :61: after its closing balance", async () => {
    const noOpening = await parseError(mt940(":61:240101C1,NTRFNONREF").replace(":60F:C240101EUR100,00\n", ""));
    expect([noOpening.code, locationOf(noOpening)]).toEqual(["STATEMENT_MALFORMED", { line: 4, record: ":61:" }]);
    const noOpeningNoLines = await parseError(mt940().replace(":60F:C240101EUR100,00\n", ""));
    expect([noOpeningNoLines.code, locationOf(noOpeningNoLines)]).toEqual(["STATEMENT_MALFORMED", { line: 5, record: ":60F:" }]);
    const noClosing = await parseError(mt940(":61:240101C1,NTRFNONREF").replace(":62F:C240102EUR100,00\n", ""));
    expect([noClosing.code, locationOf(noClosing)]).toEqual(["STATEMENT_MALFORMED", { line: 6, record: ":62F:" }]);
    const truncated = await parseError(mt940(":61:240101C1,NTRFNONREF", ":86:text").split("\n").slice(0, 6).join("\n"));
    expect([truncated.code, locationOf(truncated)]).toEqual(["STATEMENT_MALFORMED", { line: 6, record: ":62F:" }]);
    const noAccount = await parseError(mt940().replace(":25:12345678/999\n", ""));
    expect([noAccount.code, locationOf(noAccount)]).toEqual(["STATEMENT_MALFORMED", { line: 1, record: ":20:" }]);
    const late = await parseError(`${mt940().slice(0, -2)}\n:61:240101C1,NTRFNONREF\n-`);
    expect([late.code, locationOf(late)]).toEqual(["STATEMENT_MALFORMED", { line: 6, record: ":61:" }]);
  });

  it("refuses text outside a message, an unclosed envelope block, and a file with no message", async () => {
    const outside = await parseError(`garbage\n${mt940()}`);
    expect([outside.code, locationOf(outside)]).toEqual(["STATEMENT_MALFORMED", { line: 1 }]);
    const block = await parseError(`{1:F01X{2:I940X}{4:\n${mt940()}\n-}`);
    expect([block.code, locationOf(block)]).toEqual(["STATEMENT_MALFORMED", { line: 1, record: "{1:" }]);
    for (const text of ["", "\n\n  \n", "-\n-\n"]) {
      const error = await parseError(text);
      expect([error.code, locationOf(error)]).toEqual(["STATEMENT_EMPTY", { line: 1 }]);
    }
  });

  it("refuses a physical line over lineLengthMax, and a field over a line's raw bound, naming where it starts", async () => {
    const line = await parseError(mt940(":61:240101C1,NTRFNONREF", `:86:${"x".repeat(200)}`), { limits: { lineLengthMax: 100 } });
    expect([line.code, locationOf(line), line.detail?.limit]).toEqual(["STATEMENT_LINE_TOO_LONG", { line: 6 }, 100]);
    const many = Array.from({ length: STATEMENT_LINE_LIMITS.rawLengthMax / 64 + 1 }, () => "y".repeat(64)).join("\n");
    const field = await parseError(mt940(":61:240101C1,NTRFNONREF", `:86:${many}`));
    expect([field.code, locationOf(field)]).toEqual(["STATEMENT_LINE_TOO_LONG", { line: 6, record: ":86:" }]);
  });

  it("accepts linesMax statement lines and refuses one more, at the line beyond", async () => {
    const three = mt940(":61:240101C1,NTRFNONREF", ":61:240101C1,NTRFNONREF", ":61:240101C1,NTRFNONREF");
    expect((await parse(three, { limits: { linesMax: 3 } })).lines).toHaveLength(3);
    const error = await parseError(three, { limits: { linesMax: 2 } });
    expect([error.code, locationOf(error), error.detail?.limit]).toEqual(["STATEMENT_TOO_MANY_LINES", { line: 7, record: ":61:" }, 2]);
  });
});

describe("detection", () => {
  it("names MT940 and MT942 from the envelope or the first message, and nothing else", () => {
    expect(detectFormat(YEAR_END)).toBe("mt940");
    expect(detectFormat(`\r\n${YEAR_END.replace(/\n/g, "\r\n")}`)).toBe("mt940");
    expect(detectFormat(MT942)).toBe("mt942");
    expect(detectFormat(MT942.replace(/^\{1:[^\n]*\{4:\r\n/, ""))).toBe("mt942");
    expect(detectFormat(MT942.replace("O942", "O940"))).toBe("mt940");
    for (const other of ['<?xml version="1.0"?><Document/>', "01,BANK,CUST,240101,0000,1,,,2/", "OFXHEADER:100", "date,amount\n2024-01-01,1", ":20:only a reference", "{1:F01X}{2:O103X}{4:"]) {
      expect(mt940Importer.detect(other)).toBeUndefined();
    }
  });
});
