// Proves the OFX importer reads the real ofxparse sample (OFX 1.02 SGML)
// exactly, and our own samples of what the spec allows beyond it: OFX 2.x
// XML, a credit-card statement, several statements in one file, closed and
// unclosed leaves mixed, foreign-currency transactions, counterparties;
// that chunking and line endings do not change what it reads; and that
// malformed files fail with their code at their line and element: a tag
// never closed, truncation at any character, bad amounts and dates,
// missing elements, each limit at its bound and one beyond.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TrueupError } from "@trueup/contracts";
import { detectFormat, importerFor } from "../../src/reconciliation/importers/index.ts";
import { ofxImporter } from "../../src/reconciliation/importers/ofx/index.ts";
import { DEPTH_MAX, TAG_LENGTH_MAX } from "../../src/reconciliation/importers/ofx/tokenizer.ts";
import { fixture, itemsOrLocatedError, lines, mutations, parseAll, parseError, sameResultWhateverTheChunks, statements } from "./bai2-ofx-support.ts";

const SAMPLE = fixture("ofx/ofxparse-bank_medium.ofx");
const STMTRS = "/OFX/BANKMSGSRSV1/STMTTRNRS[1]/STMTRS[1]";

/** An OFX 2.x document, every element closed, one bank statement. */
const XML_BANK = `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX>
  <SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS><DTSERVER>20240105083000.000[+1:CET]</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>
  <BANKMSGSRSV1>
    <STMTTRNRS>
      <TRNUID>stmt-2024-01</TRNUID>
      <STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
      <STMTRS>
        <CURDEF>EUR</CURDEF>
        <BANKACCTFROM><BANKID>10020030</BANKID><BRANCHID>1</BRANCHID><ACCTID>DE89 3704 0044 0532 0130 00</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>
        <BANKTRANLIST>
          <DTSTART>20240101</DTSTART><DTEND>20240104235959</DTEND>
          <STMTTRN>
            <TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20240102</DTPOSTED><DTUSER>20231231</DTUSER><DTAVAIL>20240103</DTAVAIL>
            <TRNAMT>1250.00</TRNAMT><FITID>F-1</FITID><REFNUM>INV-42</REFNUM>
            <PAYEE><NAME>Smith &amp; Sons</NAME><ADDR1>1 Main St</ADDR1><CITY>Springfield</CITY></PAYEE>
            <BANKACCTTO><BANKID>50010517</BANKID><ACCTID>0648489890</ACCTID><ACCTTYPE>SAVINGS</ACCTTYPE></BANKACCTTO>
            <MEMO>Invoice 42 &lt;paid&gt;</MEMO>
          </STMTTRN>
          <STMTTRN>
            <TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20240103120000</DTPOSTED><TRNAMT>-19.99</TRNAMT><FITID>F-2</FITID>
            <NAME>US Store</NAME><CURRENCY><CURRATE>0.91</CURRATE><CURSYM>USD</CURSYM></CURRENCY>
          </STMTTRN>
          <STMTTRN>
            <TRNTYPE>FEE</TRNTYPE><DTPOSTED>20240104</DTPOSTED><TRNAMT>-2.50</TRNAMT><FITID>F-3</FITID>
            <NAME>Card fee</NAME><ORIGCURRENCY><CURRATE>1.09</CURRATE><CURSYM>GBP</CURSYM></ORIGCURRENCY><MEMO/>
          </STMTTRN>
        </BANKTRANLIST>
        <LEDGERBAL><BALAMT>-120.40</BALAMT><DTASOF>20240104235959</DTASOF></LEDGERBAL>
        <AVAILBAL><BALAMT>879.60</BALAMT><DTASOF>20240104</DTASOF></AVAILBAL>
      </STMTRS>
    </STMTTRNRS>
  </BANKMSGSRSV1>
</OFX>
`;

/** OFX 1.x: two bank statements and a credit-card one, leaves closed in some places and not in others, a comma decimal. */
const SGML_SEVERAL = `OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20240201</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1>
<STMTTRNRS><TRNUID>1001<STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>111</ACCTID><ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240101<DTEND>20240131
<STMTTRN><TRNTYPE>DEP<DTPOSTED>20240110<TRNAMT>100,50<FITID>A1</STMTTRN>
<STMTTRN><TRNTYPE>CHECK</TRNTYPE><DTPOSTED>20240111</DTPOSTED><TRNAMT>-40</TRNAMT><FITID>A2</FITID><CHECKNUM>1042</CHECKNUM><NAME>Landlord</STMTTRN>
</BANKTRANLIST><LEDGERBAL><BALAMT>60.50<DTASOF>20240131</LEDGERBAL></STMTRS></STMTTRNRS>
<STMTTRNRS><TRNUID>1002<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>222<ACCTTYPE>SAVINGS</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240101<DTEND>20240131
<STMTTRN><TRNTYPE>INT<DTPOSTED>20240131<TRNAMT>0.12<FITID>B1<MEMO>Interest</STMTTRN>
</BANKTRANLIST><LEDGERBAL><BALAMT>1000.12<DTASOF>20240131</LEDGERBAL></STMTRS></STMTTRNRS>
</BANKMSGSRSV1>
<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>2001<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<CCSTMTRS><CURDEF>USD<CCACCTFROM><ACCTID>4111111111111111</CCACCTFROM>
<BANKTRANLIST><DTSTART>20240101<DTEND>20240131
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240115<TRNAMT>-75.00<FITID>C1<NAME>Grocer<MEMO>Weekly shop</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240120<TRNAMT>75.00<FITID>C2<NAME>Payment - thank you</STMTTRN>
</BANKTRANLIST><LEDGERBAL><BALAMT>-0.00<DTASOF>20240131</LEDGERBAL><AVAILBAL><BALAMT>5000.00<DTASOF>20240131</AVAILBAL></CCSTMTRS></CCSTMTTRNRS>
</CREDITCARDMSGSRSV1>
</OFX>
`;

function replaced(text: string, from: string, to: string): string {
  expect(text).toContain(from);
  return text.replace(from, to);
}

describe("OFX: the ofxparse sample (1.02 SGML)", () => {
  it("reads the account, its three transactions and both balances", async () => {
    const items = await parseAll(ofxImporter, SAMPLE);
    expect(items.map((item) => item.kind)).toEqual(["line", "line", "line", "statement", "file"]);
    expect(lines(items).map((line) => [line.bookingDate, line.side, line.amountMinor, line.bankReference, line.bankCodes.ofx, line.counterparty.name, line.description])).toEqual([
      ["2009-04-01", "debit", 660n, "0000123456782009040100001", "POS", "MCDONALD'S #112", "POS MERCHANDISE;MCDONALD'S #112"],
      ["2009-04-02", "debit", 31667n, "0000123456782009040200004", "CHECK", "Joe's Bald Hairstyles", "MISCELLANEOUS PAYMENTS;Joe's Bald Hairstyles"],
      ["2009-04-03", "debit", 2200n, "0000123456782009040300005", "POS", "CONNIE'S HAIR D", "POS MERCHANDISE;CONNIE'S HAIR D"],
    ]);
    for (const [index, line] of lines(items).entries()) {
      expect(line).toMatchObject({ currency: "CAD", valueDate: null, reversal: false, location: { line: 15 + index, element: `${STMTRS}/BANKTRANLIST/STMTTRN[${index + 1}]` } });
      expect(line.raw.startsWith("<STMTTRN>") && line.raw.endsWith("</STMTTRN>")).toBe(true);
      expect(SAMPLE).toContain(line.raw);
    }
    expect(lines(items)[1]).toMatchObject({ customerReference: "0", attributes: { checkNumber: "0", accountType: "CHECKING" } });
    expect(statements(items)).toEqual([
      {
        format: "ofx",
        section: 0,
        account: { iban: null, accountNumber: "12300 000012345678", bankId: "160000100", currency: "CAD", location: { line: 13, element: `${STMTRS}/BANKACCTFROM/ACCTID` } },
        currency: "CAD",
        statementReference: "20090523122017",
        sequenceNumber: null,
        pageNumber: null,
        createdAt: "2009-05-23T12:20:17",
        periodStart: "2009-04-01",
        periodEnd: "2009-05-23",
        openingBalance: null,
        closingBalance: { amountMinor: 38234n, side: "credit", currency: "CAD", date: "2009-05-23", location: { line: 18, element: `${STMTRS}/LEDGERBAL/BALAMT` } },
        availableBalance: { amountMinor: 68234n, side: "credit", currency: "CAD", date: "2009-05-23", location: { line: 18, element: `${STMTRS}/AVAILBAL/BALAMT` } },
        balanceKind: null,
        controlTotals: [],
        lineCount: 3,
        location: { line: 13, element: STMTRS },
      },
    ]);
    expect(items[items.length - 1]).toEqual({ kind: "file", controlTotals: [] });
  });

  it("gives the same items in 1-character, 3-character and whole chunks, and with CRLF or CR line ends", async () => {
    const whole = await parseAll(ofxImporter, SAMPLE);
    for (const chunkSize of [1, 3, 64]) expect(await parseAll(ofxImporter, SAMPLE, { chunkSize })).toEqual(whole);
    for (const variant of [SAMPLE.replace(/\n/g, "\r\n"), SAMPLE.replace(/\n/g, "\r"), SAMPLE.trimEnd()]) {
      expect(await parseAll(ofxImporter, variant, { chunkSize: 1 })).toEqual(whole);
    }
  });

  it("is detected from its header or its root, and is the registry's importer for ofx", () => {
    expect(detectFormat(SAMPLE)).toBe("ofx");
    expect(detectFormat(XML_BANK)).toBe("ofx");
    expect(detectFormat("\n  <OFX><SIGNONMSGSRSV1>")).toBe("ofx");
    expect(detectFormat('<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">')).not.toBe("ofx");
    expect(detectFormat(":20:STARTUMS\n:86:<OFX> in a text\n")).toBeUndefined();
    expect(importerFor("ofx")).toBe(ofxImporter);
  });
});

describe("OFX: what the spec allows beyond the sample", () => {
  it("reads OFX 2.x XML: entities, value and user dates, payee, counterparty account, foreign currencies, a negative balance", async () => {
    const items = await parseAll(ofxImporter, XML_BANK, { chunkSize: 5 });
    const [credit, foreign, fee] = lines(items);
    expect(credit).toMatchObject({
      amountMinor: 125000n,
      side: "credit",
      currency: "EUR",
      bookingDate: "2024-01-02",
      valueDate: "2024-01-03",
      bankReference: "F-1",
      customerReference: "INV-42",
      description: "Invoice 42 <paid>",
      counterparty: { name: "Smith & Sons", accountNumber: "0648489890", iban: null, bic: null },
      bankCodes: { ofx: "CREDIT" },
      attributes: { refNumber: "INV-42", userDate: "2023-12-31", accountType: "CHECKING", counterpartyBankId: "50010517", counterpartyAccountType: "SAVINGS" },
    });
    expect(credit?.location).toEqual({ line: 14, element: "/OFX/BANKMSGSRSV1/STMTTRNRS[1]/STMTRS[1]/BANKTRANLIST/STMTTRN[1]" });
    expect(XML_BANK).toContain(credit?.raw);
    expect(foreign).toMatchObject({ amountMinor: 1999n, side: "debit", currency: "USD", description: "US Store", attributes: { currencyRate: "0.91" } });
    expect(fee).toMatchObject({ amountMinor: 250n, side: "debit", currency: "EUR", description: "Card fee", attributes: { originalCurrency: "GBP", currencyRate: "1.09" } });
    expect(statements(items)[0]).toMatchObject({
      account: { accountNumber: "DE89 3704 0044 0532 0130 00", bankId: "10020030" },
      currency: "EUR",
      statementReference: "stmt-2024-01",
      createdAt: "2024-01-05T08:30:00+01:00",
      periodStart: "2024-01-01",
      periodEnd: "2024-01-04",
      closingBalance: { amountMinor: 12040n, side: "debit", currency: "EUR", date: "2024-01-04" },
      availableBalance: { amountMinor: 87960n, side: "credit" },
      lineCount: 3,
    });
  });

  it("reads several statements, bank and credit card, each after its own lines, with closed and unclosed leaves mixed", async () => {
    const items = await parseAll(ofxImporter, SGML_SEVERAL, { chunkSize: 2 });
    expect(items.map((item) => (item.kind === "line" ? `line ${item.section}` : item.kind))).toEqual([
      "line 0", "line 0", "statement", "line 1", "statement", "line 2", "line 2", "statement", "file",
    ]);
    expect(statements(items).map((statement) => [statement.section, statement.account.accountNumber, statement.account.bankId, statement.statementReference, statement.lineCount, statement.location.element])).toEqual([
      [0, "111", "121000248", "1001", 2, "/OFX/BANKMSGSRSV1/STMTTRNRS[1]/STMTRS[1]"],
      [1, "222", "121000248", "1002", 1, "/OFX/BANKMSGSRSV1/STMTTRNRS[2]/STMTRS[1]"],
      [2, "4111111111111111", null, "2001", 2, "/OFX/CREDITCARDMSGSRSV1/CCSTMTTRNRS[1]/CCSTMTRS[1]"],
    ]);
    expect(lines(items).map((line) => [line.bankReference, line.side, line.amountMinor, line.customerReference, line.description])).toEqual([
      ["A1", "credit", 10050n, null, null],
      ["A2", "debit", 4000n, "1042", "Landlord"],
      ["B1", "credit", 12n, null, "Interest"],
      ["C1", "debit", 7500n, null, "Weekly shop"],
      ["C2", "credit", 7500n, null, "Payment - thank you"],
    ]);
    // "-0.00" owes nothing: zero is a credit balance.
    expect(statements(items)[2]).toMatchObject({ closingBalance: { amountMinor: 0n, side: "credit" }, availableBalance: { amountMinor: 500000n }, createdAt: "2024-02-01" });
  });

  it("reads minified XML on one line longer than lineLengthMax: the bound is on each value, not on physical lines", async () => {
    const minified = XML_BANK.replace(/>\s+</g, "><").replace(/\n/g, "");
    expect(minified.length).toBeGreaterThan(1_000);
    const items = await parseAll(ofxImporter, minified, { limits: { lineLengthMax: 200 } });
    expect(lines(items)).toHaveLength(3);
    expect(lines(items).every((line) => line.location.line === 1)).toBe(true);
  });

  it("keeps a correction's and the bank's other ids as attributes, not applied: the line is what the file states", async () => {
    const text = replaced(SAMPLE, "<FITID>0000123456782009040100001", "<FITID>0000123456782009040100001<SRVRTID>S-9<CORRECTFITID>OLD-1<CORRECTACTION>REPLACE<SIC>5812<PAYEEID>P7<EXTDNAME>McDonald's Restaurant #112");
    expect(lines(await parseAll(ofxImporter, text))[0]?.attributes).toEqual({
      serverTransactionId: "S-9",
      correctFitId: "OLD-1",
      correctAction: "REPLACE",
      sic: "5812",
      payeeId: "P7",
      extendedName: "McDonald's Restaurant #112",
      accountType: "CHECKING",
    });
  });

  it("keeps unknown elements and aggregates out of the lines, and a numeric reference to a control character as written", async () => {
    const text = replaced(SAMPLE, "<NAME>MCDONALD'S #112", "<INTU.XTRA><X.SUB>1</X.SUB></INTU.XTRA><NAME>MCDONALD&#0;S &#x263A; #112");
    const first = lines(await parseAll(ofxImporter, text))[0];
    expect(first?.counterparty.name).toBe("MCDONALD&#0;S \u263a #112");
    expect(first?.attributes).toEqual({ accountType: "CHECKING" });
  });
});

describe("OFX: malformed files fail at their line and element", () => {
  it("fails on every truncation before </OFX>", async () => {
    const end = SAMPLE.indexOf("</OFX>") + "</OFX>".length;
    for (let length = 0; length < end; length++) {
      const result = await itemsOrLocatedError(ofxImporter, SAMPLE.slice(0, length));
      expect(result, `prefix of ${length} characters`).toBeInstanceOf(TrueupError);
      expect(["STATEMENT_MALFORMED", "STATEMENT_AMOUNT_INVALID", "STATEMENT_DATE_INVALID", "STATEMENT_EMPTY"]).toContain((result as TrueupError).code);
    }
    const xmlEnd = XML_BANK.indexOf("</OFX>") + "</OFX>".length;
    for (let length = 0; length < xmlEnd; length += 7) {
      expect(await itemsOrLocatedError(ofxImporter, XML_BANK.slice(0, length)), `XML prefix of ${length}`).toBeInstanceOf(TrueupError);
    }
  });

  it("names an aggregate never closed at its opening line", async () => {
    const unclosed = replaced(SAMPLE, "MISCELLANEOUS PAYMENTS;Joe's Bald Hairstyles</STMTTRN>", "MISCELLANEOUS PAYMENTS;Joe's Bald Hairstyles");
    const error = await parseError(ofxImporter, unclosed);
    expect([error.code, error.location.line]).toEqual(["STATEMENT_MALFORMED", 16]);
    const nested = await parseError(ofxImporter, replaced(SAMPLE, "</BANKTRANLIST>", "</STMTRS>"));
    expect([nested.code, nested.message]).toEqual(["STATEMENT_MALFORMED", `line 18, ${STMTRS}/BANKTRANLIST: </STMTRS> while <BANKTRANLIST> (line 14) is not closed`]);
    const stray = await parseError(ofxImporter, replaced(SAMPLE, "</SONRS>", "</SONRS></STMTTRN>"));
    expect([stray.code, stray.location.line]).toEqual(["STATEMENT_MALFORMED", 11]);
  });

  it("refuses bad amounts at their element: not a number, ambiguous separators, too many decimals", async () => {
    for (const amount of ["-6.6x", "1,234.56", "-6.601", "", "--6", "6.60-1"]) {
      const error = await parseError(ofxImporter, replaced(SAMPLE, "<TRNAMT>-6.60", `<TRNAMT>${amount}`));
      const expected = amount === "" ? ["STATEMENT_MALFORMED", `${STMTRS}/BANKTRANLIST/STMTTRN[1]`] : ["STATEMENT_AMOUNT_INVALID", `${STMTRS}/BANKTRANLIST/STMTTRN[1]/TRNAMT`];
      expect([error.code, error.location.element], amount).toEqual(expected);
      expect(error.location.line).toBe(15);
    }
    const balance = await parseError(ofxImporter, replaced(SAMPLE, "<BALAMT>382.34", "<BALAMT>382.3.4"));
    expect([balance.code, balance.location.element]).toEqual(["STATEMENT_AMOUNT_INVALID", `${STMTRS}/LEDGERBAL/BALAMT`]);
  });

  it("refuses impossible dates", async () => {
    for (const [from, to, element] of [
      ["<DTPOSTED>20090401122017.000[-5:EST]", "<DTPOSTED>20090231", "STMTTRN[1]/DTPOSTED"],
      ["<DTPOSTED>20090401122017.000[-5:EST]", "<DTPOSTED>2009", "STMTTRN[1]/DTPOSTED"],
      ["<DTPOSTED>20090401122017.000[-5:EST]", "<DTPOSTED>20090401256017", "STMTTRN[1]/DTPOSTED"],
      ["<DTPOSTED>20090401122017.000[-5:EST]", "<DTPOSTED>00000401", "STMTTRN[1]/DTPOSTED"],
      ["<DTSTART>20090401", "<DTSTART>20091301", "DTSTART"],
    ] as const) {
      const error = await parseError(ofxImporter, replaced(SAMPLE, from, to));
      expect(error.code, to).toBe("STATEMENT_DATE_INVALID");
      expect(error.location.element).toBe(`${STMTRS}/BANKTRANLIST/${element}`);
    }
  });

  it("refuses a transaction or statement missing what it must state, or stating it twice", async () => {
    const cases: [string, string, string, string][] = [
      ["<TRNAMT>-6.60", "", "no <TRNAMT>", `${STMTRS}/BANKTRANLIST/STMTTRN[1]`],
      ["<DTPOSTED>20090401122017.000[-5:EST]", "", "no <DTPOSTED>", `${STMTRS}/BANKTRANLIST/STMTTRN[1]`],
      ["<TRNAMT>-6.60", "<TRNAMT>-6.60<TRNAMT>-6.60", "<TRNAMT> appears twice", `${STMTRS}/BANKTRANLIST/STMTTRN[1]/TRNAMT`],
      ["<CURDEF>CAD", "", "no <CURDEF>", `${STMTRS}/BANKTRANLIST/STMTTRN[1]`],
      ["<CURDEF>CAD", "<CURDEF>XYZ", "not an ISO 4217 currency", `${STMTRS}/CURDEF`],
      ["<ACCTID>12300 000012345678", "", "names no account", STMTRS],
      ["<BALAMT>382.34", "", "no <BALAMT>", `${STMTRS}/LEDGERBAL`],
      ["<FITID>0000123456782009040100001", `<FITID>${"F".repeat(501)}`, "longer than 500", `${STMTRS}/BANKTRANLIST/STMTTRN[1]/FITID`],
    ];
    for (const [from, to, message, element] of cases) {
      const error = await parseError(ofxImporter, replaced(SAMPLE, from, to));
      expect([error.code, error.location.element], to).toEqual(["STATEMENT_MALFORMED", element]);
      expect(error.message).toContain(message);
    }
  });

  it("refuses what is not OFX: another root, text outside values, anything after </OFX>, a broken tag", async () => {
    const cases: [string, string, number][] = [
      ["another root", "OFXHEADER:100\n\n<FOO><OFX></OFX></FOO>", 3],
      ["text after </OFX>", SAMPLE.trimEnd() + "\ntrailing", 19],
      ["a tag after </OFX>", SAMPLE + "<OFX>", 19],
      ["text between aggregates", replaced(SAMPLE, "</BANKTRANLIST>", "stray</BANKTRANLIST>"), 18],
      ["a tag that is no name", replaced(SAMPLE, "<LEDGERBAL>", "<LEDGER BAL=1 <>"), 18],
      ["nothing at all", "", 1],
      ["a statement inside a statement", replaced(SAMPLE, "<BANKTRANLIST>", "<STMTRS><BANKTRANLIST>"), 14],
    ];
    for (const [name, text, line] of cases) {
      const error = await parseError(ofxImporter, text);
      expect([error.code, error.location.line], name).toEqual(["STATEMENT_MALFORMED", line]);
    }
  });

  it("says a file with no statement is empty", async () => {
    const signonOnly = SAMPLE.slice(0, SAMPLE.indexOf("<BANKMSGSRSV1>")) + "</OFX>\n";
    const error = await parseError(ofxImporter, signonOnly);
    expect([error.code, error.location.line]).toEqual(["STATEMENT_EMPTY", 13]);
    const investmentOnly = "<OFX><INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><INVSTMTRS><DTASOF>20240101<CURDEF>USD" +
      "<INVACCTFROM><BROKERID>b.com<ACCTID>9</INVACCTFROM><INVTRANLIST><DTSTART>20240101<DTEND>20240131<INVBANKTRAN><STMTTRN><TRNTYPE>CREDIT" +
      "<DTPOSTED>20240105<TRNAMT>10.00<FITID>I1</STMTTRN><SUBACCTFUND>CASH</INVBANKTRAN></INVTRANLIST></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1></OFX>";
    expect((await parseError(ofxImporter, investmentOnly)).code).toBe("STATEMENT_EMPTY");
  });
});

describe("OFX: limits", () => {
  it("reads 3 lines with linesMax 3 and fails at the third with linesMax 2", async () => {
    expect(lines(await parseAll(ofxImporter, SAMPLE, { limits: { linesMax: 3 } }))).toHaveLength(3);
    const error = await parseError(ofxImporter, SAMPLE, { limits: { linesMax: 2 } });
    expect([error.code, error.location.line, error.detail?.limit]).toEqual(["STATEMENT_TOO_MANY_LINES", 17, 2]);
  });

  it("fails a value longer than lineLengthMax, and reads one at it", async () => {
    const memo = "M".repeat(300);
    const text = replaced(SAMPLE, "<MEMO>POS MERCHANDISE;MCDONALD'S #112", `<MEMO>${memo}`);
    expect(lines(await parseAll(ofxImporter, text, { limits: { lineLengthMax: 300 }, chunkSize: 16 }))[0]?.description).toBe(memo);
    const error = await parseError(ofxImporter, text, { limits: { lineLengthMax: 299 }, chunkSize: 16 });
    expect([error.code, error.location]).toEqual(["STATEMENT_LINE_TOO_LONG", { line: 15, element: `${STMTRS}/BANKTRANLIST/STMTTRN[1]/MEMO` }]);
  });

  it("fails a transaction whose source is longer than rawLengthMax, at the transaction", async () => {
    const text = replaced(SAMPLE, "<MEMO>POS MERCHANDISE;MCDONALD'S #112", `<MEMO>${"M".repeat(16_384)}`);
    const error = await parseError(ofxImporter, text, { limits: { lineLengthMax: 100_000 } });
    expect([error.code, error.location]).toEqual(["STATEMENT_LINE_TOO_LONG", { line: 15, element: `${STMTRS}/BANKTRANLIST/STMTTRN[1]` }]);
  });

  it("fails a tag longer than TAG_LENGTH_MAX and nesting deeper than DEPTH_MAX", async () => {
    const longTag = await parseError(ofxImporter, replaced(SAMPLE, "<LEDGERBAL>", `<LEDGERBAL ${"x".repeat(TAG_LENGTH_MAX)}>`));
    expect([longTag.code, longTag.location.line]).toEqual(["STATEMENT_LINE_TOO_LONG", 18]);
    const atDepth = "<OFX>" + "<BAL>".repeat(DEPTH_MAX - 1) + "</BAL>".repeat(DEPTH_MAX - 1) + "</OFX>";
    expect((await parseError(ofxImporter, atDepth)).code).toBe("STATEMENT_EMPTY");
    const deeper = "<OFX>" + "<BAL>".repeat(DEPTH_MAX) + "</BAL>".repeat(DEPTH_MAX) + "</OFX>";
    const error = await parseError(ofxImporter, deeper);
    expect([error.code, error.detail?.limit]).toEqual(["STATEMENT_MALFORMED", DEPTH_MAX]);
  });
});

describe("OFX: fuzz", () => {
  it("on thousands of mutations of real files, yields the same items or the same located TrueupError whatever the chunks, never another exception", async () => {
    const alphabet = ["<", ">", "/", "-", ".", ",", "0", "9", "\n", "\r", " ", "&", ";", "#", "?", "!", "A", "[", "]", ":", "é", "\u0000"];
    for (const sample of [SAMPLE, XML_BANK, SGML_SEVERAL]) {
      await fc.assert(
        fc.asyncProperty(mutations(sample, alphabet), fc.constantFrom(1, 3, 64), async (text, chunkSize) => {
          await sameResultWhateverTheChunks(ofxImporter, text, chunkSize);
        }),
        { numRuns: 600 },
      );
    }
  });
});
