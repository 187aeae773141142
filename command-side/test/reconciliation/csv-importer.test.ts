// Proves the CSV importer reads a file exactly as its profile says, and
// refuses, with the row's line and the column, whatever does not fit:
// - mapping variants: a signed amount column (either meaning of positive),
//   debit/credit columns, `;` with `,` decimals and `.` thousands, header
//   names or indexes, skipped preamble lines, every date format;
// - RFC 4180 syntax through csv-parse: quoted delimiters, line breaks and
//   doubled quotes inside fields, CRLF/LF/CR, no final newline, a BOM; the
//   raw row is kept as written, and line numbers count physical lines;
// - the same items whatever the chunking (1-character chunks included);
// - every kind of bad row (amount, date, currency, debit and credit both or
//   neither, ragged field count, a missing or doubled header column, an
//   unclosed quote) is a TrueupError at {line, column};
// - limits: a row at the line-length bound passes and one beyond fails with
//   STATEMENT_LINE_TOO_LONG; linesMax lines pass and one more fails with
//   STATEMENT_TOO_MANY_LINES; no profile is CSV_PROFILE_REQUIRED.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CSV_DATE_FORMATS, TrueupError } from "@trueup/contracts";
import { detectFormat, importerFor } from "../../src/reconciliation/importers/index.ts";
import { lineData } from "../../src/reconciliation/import/scan.ts";
import { parseCsvDate } from "../../src/reconciliation/importers/csv/dates.ts";
import { checkedDate } from "../../src/reconciliation/importers/shared.ts";
import { failure, parseCsv, profileOf } from "./csv-support.ts";

const signed = profileOf({ currency: "EUR", columns: { bookingDate: "Date", amount: "Amount", description: "Text", bankReference: "Ref" } });

describe("the CSV importer reads rows with their profile", () => {
  it("is registered for format csv and never guesses it from content", () => {
    expect(importerFor("csv")?.name).toBe("csv");
    expect(detectFormat("Date,Amount\n2026-03-01,1.00\n")).toBeUndefined();
  });

  it("reads a signed amount column: positive is money in, negative money out", async () => {
    const text = "Date,Amount,Text,Ref\n2026-03-01,1234.56,Invoice 7,R1\n2026-03-02,-0.99,Card fee,NONREF\n2026-02-27,0.00,Notice,\n";
    const { lines, statement, items } = await parseCsv(text, signed);
    expect(lines.map((l) => [l.amountMinor, l.side, l.bookingDate, l.description, l.bankReference])).toEqual([
      [123456n, "credit", "2026-03-01", "Invoice 7", "R1"],
      [99n, "debit", "2026-03-02", "Card fee", null],
      [0n, "credit", "2026-02-27", "Notice", null],
    ]);
    expect(lines.map((l) => l.location)).toEqual([{ line: 2 }, { line: 3 }, { line: 4 }]);
    expect(lines[0]?.raw).toBe("2026-03-01,1234.56,Invoice 7,R1");
    expect(statement).toMatchObject({ format: "csv", section: 0, currency: "EUR", lineCount: 3, periodStart: "2026-02-27", periodEnd: "2026-03-02", openingBalance: null, closingBalance: null });
    expect(statement.account).toMatchObject({ iban: null, accountNumber: null, bankId: null });
    expect(items.map((i) => i.kind)).toEqual(["line", "line", "line", "statement", "file"]);
    expect(items.at(-1)).toEqual({ kind: "file", controlTotals: [] });
  });

  it("reads positiveMeans: debit (a card account export) and trailing-minus amounts", async () => {
    const profile = profileOf({ currency: "USD", positiveMeans: "debit", columns: { bookingDate: 0, amount: 1 }, headerRow: false });
    const { lines } = await parseCsv("2026-03-01,25.00\n2026-03-02,10.00-\n", profile);
    expect(lines.map((l) => [l.amountMinor, l.side])).toEqual([
      [2500n, "debit"],
      [1000n, "credit"],
    ]);
  });

  it("reads debit and credit columns, either sign in the debit column, 0,00 in the unused one", async () => {
    const profile = profileOf({
      currency: "EUR",
      delimiter: ";",
      decimalSeparator: ",",
      thousandsSeparator: ".",
      dateFormat: "DD.MM.YYYY",
      columns: { bookingDate: "Buchungstag", valueDate: "Valuta", debit: "Soll", credit: "Haben", counterpartyName: "Name", counterpartyIban: "IBAN" },
    });
    const text = [
      "Buchungstag;Valuta;Soll;Haben;Name;IBAN",
      "01.03.2026;02.03.2026;1.234,56;;Müller GmbH;DE89 3704 0044 0532 0130 00",
      "03.03.2026;03.03.2026;-5,00;0,00;Bank;",
      "04.03.2026;05.03.2026;;10.000,00;Kunde AG;12345678",
      "",
    ].join("\r\n");
    const { lines } = await parseCsv(text, profile);
    expect(lines.map((l) => [l.amountMinor, l.side, l.bookingDate, l.valueDate])).toEqual([
      [123456n, "debit", "2026-03-01", "2026-03-02"],
      [500n, "debit", "2026-03-03", "2026-03-03"],
      [1000000n, "credit", "2026-03-04", "2026-03-05"],
    ]);
    expect(lines[0]?.counterparty).toEqual({ name: "Müller GmbH", iban: "DE89370400440532013000", accountNumber: null, bic: null });
    // A number in the IBAN column that is not shaped like an IBAN is kept as an account number, not dropped.
    expect(lines[2]?.counterparty).toMatchObject({ iban: null, accountNumber: "12345678" });
  });

  it("follows RFC 4180 quoting: delimiters, line breaks and doubled quotes inside fields; counts physical lines", async () => {
    const text = 'Date,Amount,Text,Ref\n2026-03-01,"1,000.00","say ""hi"", then\nleave",A\n\n2026-03-02,2.00,"multi\r\nline",B\n2026-03-03,3.00,plain,C';
    const profile = profileOf({ currency: "EUR", thousandsSeparator: ",", columns: { bookingDate: "Date", amount: "Amount", description: "Text", bankReference: "Ref" } });
    const { lines } = await parseCsv(text, profile);
    expect(lines.map((l) => [l.amountMinor, l.description, l.location.line])).toEqual([
      [100000n, 'say "hi", then leave', 2],
      [200n, "multi line", 5],
      [300n, "plain", 7],
    ]);
    expect(lines[0]?.raw).toBe('2026-03-01,"1,000.00","say ""hi"", then\nleave",A');
    expect(lines[1]?.raw).toBe('2026-03-02,2.00,"multi\r\nline",B');
  });

  it("gives the same items for LF, CRLF and CR files, with or without a final newline, in 1-character chunks", async () => {
    const rows = ["Date,Amount,Text,Ref", '2026-03-01,1.00,"a\nb",R1', "2026-03-02,-2.00,c,R2", "2026-03-03,3.00,d,R3"];
    const reference = await parseCsv(rows.join("\n") + "\n", signed);
    const strip = (parsed: typeof reference) => parsed.items.map((item) => (item.kind === "line" ? { ...item, line: { ...item.line, raw: "" } } : item));
    for (const newline of ["\n", "\r\n", "\r"]) {
      for (const final of [newline, ""]) {
        const text = rows.join(newline) + final;
        for (const chunkSize of [1, 2, 7, 1 << 20]) {
          expect(strip(await parseCsv(text, signed, { chunkSize })), JSON.stringify({ newline, final, chunkSize })).toEqual(strip(reference));
        }
      }
    }
    expect((await parseCsv("\uFEFF" + rows.join("\r\n"), signed, { chunkSize: 1 })).items).toEqual((await parseCsv(rows.join("\r\n"), signed)).items);
  });

  it("maps columns by index without a header, and skips preamble lines before the header", async () => {
    const byIndex = profileOf({ currency: "CHF", headerRow: false, delimiter: "\t", thousandsSeparator: "'", columns: { bookingDate: 2, amount: 0, bankReference: 1 } });
    const { lines } = await parseCsv("1'000.50\tX1\t2026-03-01\n-3.10\tX2\t2026-03-02\n", byIndex);
    expect(lines.map((l) => [l.amountMinor, l.side, l.bankReference])).toEqual([
      [100050n, "credit", "X1"],
      [310n, "debit", "X2"],
    ]);
    const preamble = profileOf({ currency: "EUR", skipRows: 3, columns: { bookingDate: "Date", amount: "Amount" } });
    // The preamble may hold anything, an unbalanced quote too: it is skipped as physical lines, before CSV parsing.
    const text = 'Account;DE89 3704 0044 0532 0130 00\r\n"Period: March\r\n\r\nDate,Amount\r\n2026-03-05,7.00\r\n';
    const parsed = await parseCsv(text, preamble, { chunkSize: 1 });
    expect(parsed.lines.map((l) => [l.amountMinor, l.location.line])).toEqual([[700n, 5]]);
  });

  it("reads every date format the profile can name", async () => {
    const samples: Record<(typeof CSV_DATE_FORMATS)[number], string> = {
      "YYYY-MM-DD": "2024-02-29",
      "DD.MM.YYYY": "29.02.2024",
      "DD/MM/YYYY": "29/02/2024",
      "MM/DD/YYYY": "02/29/2024",
      YYYYMMDD: "20240229",
      "DD-MM-YYYY": "29-02-2024",
      "YYYY-MM-DD HH:mm:ss": "2024-02-29 23:59:59",
      "unix-seconds": "1709251199",
    };
    for (const format of CSV_DATE_FORMATS) {
      const profile = profileOf({ currency: "EUR", dateFormat: format, columns: { bookingDate: "d", amount: "a" } });
      const { lines } = await parseCsv(`d,a\n${samples[format]},1\n`, profile);
      expect(lines[0]?.bookingDate, format).toBe("2024-02-29");
    }
    const dateTime = profileOf({ currency: "EUR", dateFormat: "YYYY-MM-DD HH:mm:ss", columns: { bookingDate: "d", amount: "a" } });
    const variants = await parseCsv("d,a\n2024-02-29,1\n2024-02-29T10:00:00Z,1\n2024-02-29 10:00,1\n2024-02-29T10:00:00.123+01:00,1\n", dateTime);
    expect(variants.lines.map((l) => l.bookingDate)).toEqual(["2024-02-29", "2024-02-29", "2024-02-29", "2024-02-29"]);
  });

  it("keeps references, codes, charges and attributes; upper-cases a currency column; truncates long free text only", async () => {
    const profile = profileOf({
      columns: {
        bookingDate: "d",
        amount: "a",
        currency: "c",
        description: "text",
        endToEndId: "e2e",
        customerReference: "cref",
        bankCode: "code",
        pspCategory: "cat",
        charges: "fee",
        attributes: { memo: "memo", absent: { names: ["nope"], optional: true } },
        amountAttributes: { netMinor: "net" },
      },
    });
    const long = "x".repeat(2500);
    const { lines, statement } = await parseCsv(`d,a,c,text,e2e,cref,code,cat,fee,memo,net\n2026-03-01,10.00,eur,${long},E1,C1,NTRF,charge,-0.59,m,9.41\n`, profile);
    expect(lines[0]).toMatchObject({ currency: "EUR", endToEndId: "E1", customerReference: "C1", chargesMinor: 59n, attributes: { memo: "m", netMinor: "941" } });
    expect(lines[0]?.bankCodes).toMatchObject({ proprietary: "NTRF", psp: "charge" });
    expect(lines[0]?.description?.length).toBe(2000);
    const longAttribute = await parseCsv(`d,a,c,text,e2e,cref,code,cat,fee,memo,net\n2026-03-01,1,EUR,t,E,C,K,k,0,${"m".repeat(600)},1\n`, profile);
    expect(longAttribute.lines[0]?.attributes.memo).toHaveLength(500);
    for (const line of [...lines, ...longAttribute.lines]) lineData(line, "ref:x#1", 1);
    expect(statement.currency).toBe("EUR");
  });

  it("ignores blank rows and rows of empty fields (spreadsheet exports end with ;;;;)", async () => {
    const { lines } = await parseCsv("Date,Amount,Text,Ref\n2026-03-01,1.00,a,R\n,,,\n\n   \n", signed);
    expect(lines).toHaveLength(1);
  });
});

describe("the CSV importer refuses what does not fit, at the row's line and column", () => {
  const cases: { name: string; text: string; code: string; location: Record<string, unknown> }[] = [
    { name: "an amount that is not one", text: "Date,Amount,Text,Ref\n2026-03-01,1.00,a,R\n2026-03-02,12x,b,R\n", code: "STATEMENT_AMOUNT_INVALID", location: { line: 3, column: "Amount" } },
    { name: "more decimals than the currency has", text: "Date,Amount,Text,Ref\n2026-03-01,1.001,a,R\n", code: "STATEMENT_AMOUNT_INVALID", location: { line: 2, column: "Amount" } },
    { name: "no amount", text: "Date,Amount,Text,Ref\n2026-03-01,,a,R\n", code: "STATEMENT_AMOUNT_INVALID", location: { line: 2, column: "Amount" } },
    { name: "an impossible date", text: "Date,Amount,Text,Ref\n2026-02-30,1.00,a,R\n", code: "STATEMENT_DATE_INVALID", location: { line: 2, column: "Date" } },
    { name: "a date in another format", text: "Date,Amount,Text,Ref\n01.03.2026,1.00,a,R\n", code: "STATEMENT_DATE_INVALID", location: { line: 2, column: "Date" } },
    { name: "a year beyond what is stored", text: "Date,Amount,Text,Ref\n9999-01-01,1.00,a,R\n", code: "STATEMENT_DATE_INVALID", location: { line: 2, column: "Date" } },
    { name: "no date", text: "Date,Amount,Text,Ref\n,1.00,a,R\n", code: "STATEMENT_DATE_INVALID", location: { line: 2, column: "Date" } },
    { name: "a row with too few fields", text: "Date,Amount,Text,Ref\n2026-03-01,1.00,a\n", code: "STATEMENT_MALFORMED", location: { line: 2 } },
    { name: "a row with too many fields", text: "Date,Amount,Text,Ref\n2026-03-01,1.00,a,R\n2026-03-01,1.00,a,R,extra\n", code: "STATEMENT_MALFORMED", location: { line: 3 } },
    { name: "a header without a mapped column", text: "Date,Sum,Text,Ref\n2026-03-01,1.00,a,R\n", code: "STATEMENT_MALFORMED", location: { line: 1, column: "Amount" } },
    { name: "a header naming a mapped column twice", text: "Date,Amount,Amount,Text,Ref\n2026-03-01,1.00,2.00,a,R\n", code: "STATEMENT_MALFORMED", location: { line: 1, column: "Amount" } },
    { name: "a quote that never closes (a truncated file)", text: 'Date,Amount,Text,Ref\n2026-03-01,1.00,a,R\n2026-03-02,1.00,"cut off\n', code: "STATEMENT_MALFORMED", location: { line: 3 } },
    { name: "a character after a closing quote", text: 'Date,Amount,Text,Ref\n2026-03-01,1.00,"a"b,R\n', code: "STATEMENT_MALFORMED", location: { line: 2 } },
    { name: "a reference longer than a reference may be", text: `Date,Amount,Text,Ref\n2026-03-01,1.00,a,${"R".repeat(501)}\n`, code: "STATEMENT_MALFORMED", location: { line: 2, column: "Ref" } },
    { name: "a header and no rows", text: "Date,Amount,Text,Ref\n\n", code: "STATEMENT_EMPTY", location: { line: 1 } },
    { name: "nothing at all", text: "", code: "STATEMENT_EMPTY", location: { line: 1 } },
  ];
  for (const { name, text, code, location } of cases) {
    it(`refuses ${name}`, async () => {
      for (const chunkSize of [1, 1 << 20]) {
        const failed = await failure(text, signed, { chunkSize });
        expect(failed.code, failed.message).toBe(code);
        expect(failed.location).toEqual(location);
      }
    });
  }

  it("reports the first fault in the file: a bad row before a csv-parse syntax error of the same chunk, and the syntax error before a bad row after it", async () => {
    const rows = ["Date,Amount,Text,Ref", "2026-03-01,1.00,a,R1", "2026-03-02,x,b,R2", "2026-03-03,3.00,c,R3", '2026-03-04,4.00,"d"e,R4', "2026-03-05,y,f,R5"];
    for (const chunkSize of [1 << 20, 5, 1]) {
      expect(await failure(rows.join("\n"), signed, { chunkSize })).toMatchObject({ code: "STATEMENT_AMOUNT_INVALID", location: { line: 3, column: "Amount" } });
      const syntaxFirst = [...rows.slice(0, 2), ...rows.slice(3)].join("\n");
      expect(await failure(syntaxFirst, signed, { chunkSize })).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: 4 } });
    }
  });

  it("reads YYYY-MM-DD exactly as its pattern says: ASCII digits only, two-digit month and day, a real date in range", () => {
    const at = { line: 2, column: "Date" };
    const outcome = (text: string): string => {
      try {
        return parseCsvDate(text, "YYYY-MM-DD", at);
      } catch (error) {
        if (!(error instanceof TrueupError)) throw error;
        return `${error.code}: ${error.message}`;
      }
    };
    // What the date is when the pattern /^(\d{4})-(\d{2})-(\d{2})$/ matches the trimmed text, else the refusal.
    const reference = (text: string): string => {
      const value = text.trim();
      const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
      if (match === null) return `STATEMENT_DATE_INVALID: line 2, column Date: ${JSON.stringify(value)} is not a date in the profile's format YYYY-MM-DD`;
      try {
        return checkedDate(Number(match[1]), Number(match[2]), Number(match[3]), at);
      } catch (error) {
        if (!(error instanceof TrueupError)) throw error;
        return `${error.code}: ${error.message}`;
      }
    };
    for (const text of ["2026-03-01", " 2026-03-01\t", "2026-3-01", "2026-03-1", "2026/03/01", "2026-02-29", "2024-02-29", "2026-13-01", "0000-01-01", "2026-03-01T", "\uff12026-03-01", "٢٠٢٦-03-01", "2026-03-0\n1"]) {
      expect(outcome(text)).toBe(reference(text));
    }
    fc.assert(
      fc.property(fc.array(fc.constantFrom("0", "1", "2", "9", "-", " ", "/", "a", "\u0660"), { minLength: 8, maxLength: 12 }), (parts) => {
        const text = parts.join("");
        expect(outcome(text)).toBe(reference(text));
      }),
      { numRuns: 2000 },
    );
    expect(outcome("2026-03-01")).toBe("2026-03-01");
  });

  it("refuses debit and credit both filled, or neither, and a negative credit", async () => {
    const profile = profileOf({ currency: "EUR", columns: { bookingDate: "d", debit: "out", credit: "in" } });
    expect(await failure("d,out,in\n2026-03-01,1.00,2.00\n", profile)).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: 2, column: "in" } });
    expect(await failure("d,out,in\n2026-03-01,,\n", profile)).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: 2, column: "out" } });
    expect(await failure("d,out,in\n2026-03-01,,-2.00\n", profile)).toMatchObject({ code: "STATEMENT_AMOUNT_INVALID", location: { line: 2, column: "in" } });
  });

  it("refuses a currency that is not a code, and an unknown one", async () => {
    const profile = profileOf({ columns: { bookingDate: "d", amount: "a", currency: "c" } });
    expect(await failure("d,a,c\n2026-03-01,1.00,euro\n", profile)).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: 2, column: "c" } });
    expect(await failure("d,a,c\n2026-03-01,1.00,\n", profile)).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: 2, column: "c" } });
    expect(await failure("d,a,c\n2026-03-01,1.00,XQZ\n", profile)).toMatchObject({ code: "STATEMENT_AMOUNT_INVALID", location: { line: 2, column: "a" } });
  });

  it("refuses an index beyond the rows' fields", async () => {
    const profile = profileOf({ currency: "EUR", headerRow: false, columns: { bookingDate: 0, amount: 5 } });
    expect(await failure("2026-03-01,1.00\n", profile)).toMatchObject({ code: "STATEMENT_MALFORMED", location: { line: 1, column: "5" } });
  });

  it("needs a profile", async () => {
    expect((await failure("Date,Amount\n", undefined)).code).toBe("CSV_PROFILE_REQUIRED");
  });
});

describe("the CSV importer's limits", () => {
  const row = (text: string) => `2026-03-01,1.00,${text},R`;

  it("takes a row of exactly lineLengthMax characters and refuses one more, quoted or not", async () => {
    const lineLengthMax = 200;
    const header = "Date,Amount,Text,Ref";
    const at = row("t".repeat(lineLengthMax - row("").length));
    expect(at).toHaveLength(lineLengthMax);
    expect((await parseCsv(`${header}\n${at}\n`, signed, { limits: { lineLengthMax } })).lines).toHaveLength(1);
    const beyond = row("t".repeat(lineLengthMax - row("").length + 1));
    for (const chunkSize of [1, 1 << 20]) {
      expect(await failure(`${header}\n${beyond}\n`, signed, { limits: { lineLengthMax }, chunkSize })).toMatchObject({ code: "STATEMENT_LINE_TOO_LONG", location: { line: 2 } });
    }
    // A quote that never closes grows one record: it stops at the bound, not at the end of a huge file.
    const endless = `${header}\n2026-03-01,1.00,"${"x\n".repeat(10_000)}`;
    expect(await failure(endless, signed, { limits: { lineLengthMax } })).toMatchObject({ code: "STATEMENT_LINE_TOO_LONG", location: { line: 2 } });
    // Multi-byte text counts in characters: 200 × "é" is at the bound.
    const accents = row("é".repeat(lineLengthMax - row("").length));
    expect((await parseCsv(`${header}\n${accents}\n`, signed, { limits: { lineLengthMax } })).lines).toHaveLength(1);
  });

  it("refuses a skipped preamble line beyond the bound", async () => {
    const profile = profileOf({ currency: "EUR", skipRows: 2, columns: { bookingDate: "Date", amount: "Amount" } });
    expect(await failure(`ok\n${"p".repeat(101)}\nDate,Amount\n`, profile, { limits: { lineLengthMax: 100 }, chunkSize: 1 })).toMatchObject({ code: "STATEMENT_LINE_TOO_LONG", location: { line: 2 } });
  });

  it("takes linesMax rows and refuses one more", async () => {
    const linesMax = 5;
    const rows = (n: number) => ["Date,Amount,Text,Ref", ...Array.from({ length: n }, (_, i) => row(`t${i}`))].join("\n");
    expect((await parseCsv(rows(linesMax), signed, { limits: { linesMax } })).lines).toHaveLength(linesMax);
    expect(await failure(rows(linesMax + 1), signed, { limits: { linesMax } })).toMatchObject({ code: "STATEMENT_TOO_MANY_LINES", location: { line: linesMax + 2 } });
  });
});
