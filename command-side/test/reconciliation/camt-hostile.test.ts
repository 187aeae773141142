// Proves that bad camt input is refused with the right code at the right
// place (the physical line and the element path), whatever the chunking:
// truncation anywhere, wrong namespaces and roots, bad amounts and dates,
// DOCTYPEs and entities (XXE, entity expansion), and every limit at its
// bound and one beyond (text length, kept subtree, stored raw and
// reference lengths, line count, nesting).
import { describe, expect, it } from "vitest";
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import { CAMT_SUBTREE_LENGTH_FACTOR } from "../../src/reconciliation/importers/camt/index.ts";
import { XML_DEPTH_MAX } from "../../src/reconciliation/importers/camt/xml-reader.ts";
import { camtDocument, entry, fixture, importCamt, importError, linesOf, locationOf, section, transaction } from "./camt-samples.ts";

const NTRY_1 = "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]";

function oneEntry(spec: Parameters<typeof entry>[0], options: { version?: string } = {}): string {
  return camtDocument({ ...options, sections: [section({ entries: [entry(spec)] })] });
}

/** The 1-based line of the first occurrence of `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.indexOf(needle);
  expect(index).toBeGreaterThanOrEqual(0);
  return text.slice(0, index).split("\n").length;
}

describe("truncated XML", () => {
  const text = fixture("camt054.v8.xml");
  const end = text.lastIndexOf("</Document>") + "</Document>".length;

  it("is refused at every cut point before the end of the root, never read as a shorter statement", async () => {
    const cuts = [0, 1, 5, 38, 39, 40];
    for (let cut = 41; cut < end; cut += 97) cuts.push(cut);
    cuts.push(end - 1, end - 2, end - "</Document>".length);
    for (const cut of cuts) {
      const error = await importError(text.slice(0, cut), { format: "camt.054" });
      expect(error.code, `cut at ${cut}`).toBe("STATEMENT_MALFORMED");
      expect(locationOf(error).line, `cut at ${cut}`).toBeGreaterThanOrEqual(1);
    }
  });

  it("a cut in the middle of an entry is malformed, located in the open entry", async () => {
    const cut = text.indexOf("<EndToEndId>UXC06170000006PI00001EE00002");
    const error = await importError(text.slice(0, cut + 20), { format: "camt.054", chunkSize: 1 });
    expect(error.code).toBe("STATEMENT_MALFORMED");
    expect(locationOf(error).element).toBe("/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/NtryDtls[1]/TxDtls[2]/Refs/EndToEndId");
  });

  it("is read up to the end of the root: nothing after it but whitespace", async () => {
    expect(linesOf(await importCamt(text.slice(0, end), { format: "camt.054" }))).toHaveLength(3);
    expect((await importError(`${text}<Document/>`, { format: "camt.054" })).code).toBe("STATEMENT_MALFORMED");
    expect((await importError(`${text}trailing`, { format: "camt.054" })).code).toBe("STATEMENT_MALFORMED");
  });

  it("empty, blank or not XML at all is malformed", async () => {
    for (const bad of ["", "   \n", "date;amount\n2026-01-01;1.00\n", "<", "<Document"]) {
      expect((await importError(bad, { format: "camt.053" })).code, JSON.stringify(bad)).toBe("STATEMENT_MALFORMED");
    }
  });
});

describe("namespaces and roots", () => {
  const good = oneEntry({ amount: "1.00", side: "CRDT" });

  it("a namespace Trueup does not read is malformed, naming what was found and what is read", async () => {
    for (const ns of ["urn:iso:std:iso:20022:tech:xsd:camt.053.001.09", "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03", "urn:example:other"]) {
      const error = await importError(good.replace("urn:iso:std:iso:20022:tech:xsd:camt.053.001.08", ns), { format: "camt.053" });
      expect(error.code).toBe("STATEMENT_MALFORMED");
      expect(error.message).toContain(ns);
      expect(error.message).toContain("camt.053");
      expect(locationOf(error)).toEqual({ line: 2, element: "/Document" });
    }
    const none = await importError(good.replace(/ xmlns="[^"]*"/, ""), { format: "camt.053" });
    expect(none.code).toBe("STATEMENT_MALFORMED");
  });

  it("an element in another namespace inside the document is malformed at that element", async () => {
    const text = good.replace("<Ntry>", '<Ntry xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">');
    const error = await importError(text);
    expect(error.code).toBe("STATEMENT_MALFORMED");
    expect(locationOf(error)).toEqual({ line: lineOf(text, "<Ntry"), element: NTRY_1 });
  });

  it("an undeclared prefix is malformed", async () => {
    const error = await importError(good.replace("<Ntry>", "<q:Ntry>").replace("</Ntry>", "</q:Ntry>"));
    expect(error.code).toBe("STATEMENT_MALFORMED");
    expect(error.message).toContain("q:Ntry");
  });

  it("a root or message element that is not camt's is malformed", async () => {
    expect((await importError(good.replace(/<(\/?)Document/g, "<$1Doc"))).message).toContain("root element is Doc");
    const wrongMessage = good.replace(/<(\/?)BkToCstmrStmt>/g, "<$1BkToCstmrAcctRpt>");
    expect((await importError(wrongMessage)).message).toContain("holds BkToCstmrStmt, not BkToCstmrAcctRpt");
  });

  it("a file of another camt message than the one asked for is malformed, not read as that message", async () => {
    const error = await importError(good, { format: "camt.054" });
    expect(error.code).toBe("STATEMENT_MALFORMED");
    expect(error.message).toContain("camt.053");
  });

  it("a message with no statement at all is STATEMENT_EMPTY", async () => {
    const error = await importError(camtDocument({ sections: [] }));
    expect(error.code).toBe("STATEMENT_EMPTY");
    expect(locationOf(error).element).toBe("/Document/BkToCstmrStmt");
  });
});

describe("amounts, sides and dates", () => {
  it.each([
    ["1,00", "decimal comma"],
    ["1.001", "more decimals than EUR has"],
    ["-5", "a sign"],
    ["", "empty"],
    ["1e3", "an exponent"],
    ["12.3.4", "two points"],
  ])("%j (%s) is STATEMENT_AMOUNT_INVALID at the Amt element and its line", async (amount) => {
    const text = oneEntry({ amount, side: "CRDT" });
    const error = await importError(text, { chunkSize: 3 });
    expect(error.code).toBe("STATEMENT_AMOUNT_INVALID");
    expect(locationOf(error)).toEqual({ line: lineOf(text, `<Amt Ccy="EUR">${amount}</Amt>`), element: `${NTRY_1}/Amt` });
  });

  it("an amount without Ccy, or in no ISO 4217 currency, is STATEMENT_AMOUNT_INVALID", async () => {
    const missing = oneEntry({ amount: "1.00", side: "CRDT" }).replace('<Amt Ccy="EUR">1.00', "<Amt>1.00");
    expect(await importError(missing)).toMatchObject({ code: "STATEMENT_AMOUNT_INVALID", detail: { location: { element: `${NTRY_1}/Amt` } } });
    expect((await importError(oneEntry({ amount: "1.00", currency: "EUX", side: "CRDT" }))).code).toBe("STATEMENT_AMOUNT_INVALID");
  });

  it("trailing zeros beyond the currency's decimals are exact and accepted; JPY has none", async () => {
    expect(linesOf(await importCamt(oneEntry({ amount: "1.23000", side: "CRDT" })))[0]?.amountMinor).toBe(123n);
    expect(linesOf(await importCamt(oneEntry({ amount: "1500", currency: "JPY", side: "CRDT" })))[0]?.amountMinor).toBe(1500n);
    expect((await importError(oneEntry({ amount: "1500.5", currency: "JPY", side: "CRDT" }))).code).toBe("STATEMENT_AMOUNT_INVALID");
  });

  it("a side that is not CRDT/DBIT, or a missing one, is malformed", async () => {
    const bogus = oneEntry({ amount: "1.00", side: "CRDT" }).replace("<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>CR</CdtDbtInd>");
    expect(await importError(bogus)).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { element: `${NTRY_1}/CdtDbtInd` } } });
    const missing = oneEntry({ amount: "1.00", side: "CRDT" }).replace("<CdtDbtInd>CRDT</CdtDbtInd>", "");
    expect(await importError(missing)).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { element: NTRY_1 } } });
  });

  it.each([
    ["2026-02-30", "Dt"],
    ["31.03.2026", "Dt"],
    ["0999-12-31", "Dt"],
    ["9999-01-01", "Dt"],
    ["2026-13-01T10:00:00", "DtTm"],
    ["2026-03-31T25:00", "DtTm"],
  ])("%j is STATEMENT_DATE_INVALID at BookgDt/%s", async (date, kind) => {
    const text = oneEntry({ amount: "1.00", side: "CRDT" }).replace("<BookgDt><Dt>2026-03-31</Dt></BookgDt>", `<BookgDt><${kind}>${date}</${kind}></BookgDt>`);
    expect(text).toContain(date);
    const error = await importError(text);
    expect(error.code).toBe("STATEMENT_DATE_INVALID");
    expect(locationOf(error)).toEqual({ line: lineOf(text, `<${kind}>${date}`), element: `${NTRY_1}/BookgDt/${kind}` });
  });

  it("a duplicated amount, account or closing balance is malformed rather than one of them chosen", async () => {
    const twoAmounts = oneEntry({ amount: "1.00", side: "CRDT" }).replace('<Amt Ccy="EUR">1.00</Amt>', '<Amt Ccy="EUR">1.00</Amt><Amt Ccy="EUR">2.00</Amt>');
    expect(await importError(twoAmounts)).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { element: `${NTRY_1}/Amt[2]` } } });
    const twoAccounts = oneEntry({ amount: "1.00", side: "CRDT" }).replace(/(<Acct>.*?<\/Acct>)/, "$1$1");
    expect(await importError(twoAccounts)).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { element: "/Document/BkToCstmrStmt/Stmt[1]/Acct[2]" } } });
    const clbd = `<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-31</Dt></Dt></Bal>`;
    const twoClosing = camtDocument({ sections: [section({ balances: [clbd, clbd], entries: [] })] });
    expect(await importError(twoClosing)).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { element: "/Document/BkToCstmrStmt/Stmt[1]/Bal[2]" } } });
  });
});

describe("DOCTYPE and entities", () => {
  const body = oneEntry({ amount: "1.00", side: "CRDT" });

  it("a DOCTYPE is refused (entity expansion: billion laughs)", async () => {
    const laughs = `<!DOCTYPE Document [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n`;
    const error = await importError(body.replace("<Document", `${laughs}<Document`).replace("Ntry>\n<Amt", "Ntry>\n<AddtlNtryInf>&c;</AddtlNtryInf><Amt"));
    expect(error.code).toBe("STATEMENT_MALFORMED");
    expect(error.message).toContain("DOCTYPE");
  });

  it("a DOCTYPE with an external entity is refused before anything is read (XXE)", async () => {
    const xxe = `<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n${body.slice(body.indexOf("<Document"))}`;
    const error = await importError(xxe.replace("<AcctSvcrRef>", "<AcctSvcrRef>&xxe;"), { format: "camt.053" });
    expect(error.code).toBe("STATEMENT_MALFORMED");
    expect(error.message).toContain("DOCTYPE");
  });

  it("an undeclared entity is malformed; the predefined ones and character references are text", async () => {
    expect((await importError(body.replace("<Sts>", "<AddtlNtryInf>&nbsp;</AddtlNtryInf><Sts>"))).code).toBe("STATEMENT_MALFORMED");
    const line = linesOf(await importCamt(body.replace("</Ntry>", "<AddtlNtryInf>M&amp;M &#x20AC; &lt;5&gt;</AddtlNtryInf></Ntry>")))[0];
    expect(line?.description).toBe("M&M € <5>");
  });
});

describe("limits", () => {
  it("a text node of lineLengthMax characters is read; one more is STATEMENT_LINE_TOO_LONG, in 1-character chunks too", async () => {
    const limit = 1000;
    const at = (n: number) => oneEntry({ amount: "1.00", side: "CRDT", info: "x".repeat(n) });
    expect(linesOf(await importCamt(at(limit), { limits: { lineLengthMax: limit } }))[0]?.description).toHaveLength(limit);
    for (const chunkSize of [1, 64, 100_000]) {
      const error = await importError(at(limit + 1), { limits: { lineLengthMax: limit }, chunkSize });
      expect(error.code).toBe("STATEMENT_LINE_TOO_LONG");
      expect(error.detail).toMatchObject({ limit });
    }
  });

  it("a huge text node is refused without being buffered whole", async () => {
    const text = oneEntry({ amount: "1.00", side: "CRDT", info: "y".repeat(3_000_000) });
    const error = await importError(text, { chunkSize: 65_536 });
    expect(error.code).toBe("STATEMENT_LINE_TOO_LONG");
    expect(locationOf(error).element).toBe(`${NTRY_1}/AddtlNtryInf`);
  });

  it("descriptions are cut to what is stored, a line's raw XML beyond it is refused", async () => {
    const long = linesOf(await importCamt(oneEntry({ amount: "1.00", side: "CRDT", info: "z".repeat(5000) })))[0];
    expect(long?.description).toHaveLength(STATEMENT_LINE_LIMITS.textLengthMax);
    const tooBig = oneEntry({ amount: "1.00", side: "CRDT", info: "w".repeat(STATEMENT_LINE_LIMITS.rawLengthMax) });
    const error = await importError(tooBig);
    expect(error.code).toBe("STATEMENT_LINE_TOO_LONG");
    expect(locationOf(error).element).toBe(NTRY_1);
  });

  it("a reference of the stored length is kept; one character more is refused, never cut", async () => {
    const max = STATEMENT_LINE_LIMITS.fieldLengthMax;
    expect(linesOf(await importCamt(oneEntry({ amount: "1.00", side: "CRDT", reference: "R".repeat(max) })))[0]?.bankReference).toHaveLength(max);
    const error = await importError(oneEntry({ amount: "1.00", side: "CRDT", reference: "R".repeat(max + 1) }));
    expect(error).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { location: { element: `${NTRY_1}/AcctSvcrRef` }, limit: max } });
  });

  it("an entry larger than lineLengthMax x the subtree factor is STATEMENT_LINE_TOO_LONG at the entry", async () => {
    const lineLengthMax = 200;
    const tx = transaction({ amount: "1.00", side: "DBIT", endToEnd: "E".repeat(100) });
    const count = Math.ceil((lineLengthMax * CAMT_SUBTREE_LENGTH_FACTOR) / tx.length) + 1;
    const big = camtDocument({ sections: [section({ entries: [entry({ amount: `${count}.00`, side: "DBIT", reference: "BIG", transactions: Array.from({ length: count }, () => tx) })] })] });
    const error = await importError(big, { limits: { lineLengthMax }, chunkSize: 4096 });
    expect(error).toMatchObject({ code: "STATEMENT_LINE_TOO_LONG", detail: { location: { element: NTRY_1 }, limit: lineLengthMax * CAMT_SUBTREE_LENGTH_FACTOR } });
    const fits = camtDocument({ sections: [section({ entries: [entry({ amount: "10.00", side: "DBIT", reference: "OK", transactions: Array.from({ length: 10 }, () => tx) })] })] });
    expect(linesOf(await importCamt(fits, { limits: { lineLengthMax } }))).toHaveLength(10);
  });

  it("linesMax lines are read; one more is STATEMENT_TOO_MANY_LINES at that line", async () => {
    const text = camtDocument({
      sections: [
        section({ entries: [entry({ amount: "1.00", side: "CRDT" }), entry({ amount: "2.00", side: "DBIT", transactions: [transaction({ amount: "1.00" }), transaction({ amount: "1.00" })] })] }),
        section({ entries: [entry({ amount: "3.00", side: "CRDT" })] }),
      ],
    });
    expect(linesOf(await importCamt(text, { limits: { linesMax: 4 } }))).toHaveLength(4);
    const error = await importError(text, { limits: { linesMax: 3 } });
    expect(error).toMatchObject({ code: "STATEMENT_TOO_MANY_LINES", detail: { limit: 3, location: { element: "/Document/BkToCstmrStmt/Stmt[2]/Ntry[1]" } } });
  });

  it(`elements nested ${XML_DEPTH_MAX} deep are malformed, not a stack of paths`, async () => {
    const deep = `${"<AddtlNtryInf>".repeat(XML_DEPTH_MAX)}x${"</AddtlNtryInf>".repeat(XML_DEPTH_MAX)}`;
    const error = await importError(oneEntry({ amount: "1.00", side: "CRDT" }).replace("</Ntry>", `${deep}</Ntry>`));
    expect(error).toMatchObject({ code: "STATEMENT_MALFORMED", detail: { limit: XML_DEPTH_MAX } });
  });
});
