// Proves what the real samples do not show: camt.052 reports and camt.054
// notifications, several statements in one file, batches of transactions
// (one line each, the entry as their batch, their sum checked), reversals,
// DtTm dates, structured creditor references, charges (v2 and v8 shapes),
// any namespace prefix, versions 001.02 and 001.08, TxsSummry control totals
// and counts, the statement period and currency when the file leaves them
// out, and detection.
import { describe, expect, it } from "vitest";
import type { ParsedLine } from "@trueup/contracts";
import { camtImporter } from "../../src/reconciliation/importers/camt/index.ts";
import { balance, camtDocument, entry, importCamt, importError, linesOf, locationOf, section, statementsOf, transaction } from "./camt-samples.ts";

function only<T>(values: readonly T[]): T {
  expect(values).toHaveLength(1);
  const [value] = values;
  if (value === undefined) throw new Error("no value");
  return value;
}

const DEBTOR = ["Kunde AG", "DE02120300000000202051"] as const;
const CREDITOR = ["Lieferant GmbH", "DE02500105170137075030"] as const;

describe("camt.052 intraday reports", () => {
  const text = camtDocument({
    message: "052",
    sections: [
      section({
        balances: [balance("OPBD", "100.00", "CRDT", "2026-03-31"), balance("ITBD", "110.00", "CRDT", "2026-03-31"), balance("ITBD", "150.00", "CRDT", "2026-03-31"), balance("ITAV", "140.00", "CRDT", "2026-03-31")],
        entries: [entry({ amount: "50.00", side: "CRDT", reference: "R1", transactions: [transaction({ debtor: DEBTOR })] })],
      }),
    ],
  });

  it("are read as camt.052, with the latest interim booked balance closing the report when it has no CLBD", async () => {
    expect(camtImporter.detect(text)).toBe("camt.052");
    const statement = only(statementsOf(await importCamt(text)));
    expect(statement.format).toBe("camt.052");
    expect(statement.openingBalance).toMatchObject({ amountMinor: 10000n, side: "credit" });
    expect(statement.closingBalance).toMatchObject({ amountMinor: 15000n, side: "credit", currency: "EUR", date: "2026-03-31" });
    expect(statement.availableBalance).toMatchObject({ amountMinor: 14000n });
  });
});

describe("a statement in several pages", () => {
  const page = (balances: readonly string[]) => camtDocument({ sections: [section({ balances, entries: [entry({ amount: "5.00", side: "CRDT" })] })] });
  const booked = async (text: string) => {
    const statement = only(statementsOf(await importCamt(text)));
    return [statement.openingBalance?.amountMinor ?? null, statement.closingBalance?.amountMinor ?? null];
  };

  it("opens and closes its pages with interim booked balances where OPBD or CLBD are missing", async () => {
    expect(await booked(page([balance("OPBD", "10.00", "CRDT", "2026-03-31"), balance("ITBD", "15.00", "CRDT", "2026-03-31")]))).toEqual([1000n, 1500n]);
    expect(await booked(page([balance("ITBD", "15.00", "CRDT", "2026-03-31"), balance("ITBD", "20.00", "CRDT", "2026-03-31")]))).toEqual([1500n, 2000n]);
    expect(await booked(page([balance("ITBD", "20.00", "CRDT", "2026-03-31"), balance("CLBD", "25.00", "CRDT", "2026-03-31")]))).toEqual([2000n, 2500n]);
    expect(await booked(page([balance("ITBD", "20.00", "CRDT", "2026-03-31")]))).toEqual([null, 2000n]);
    expect(await booked(page([balance("PRCD", "3.00", "DBIT", "2026-03-30"), balance("CLBD", "2.00", "CRDT", "2026-03-31")]))).toEqual([300n, 200n]);
  });
});

describe("camt.054 notifications", () => {
  it("are read as camt.054 from Ntfctn sections", async () => {
    const text = camtDocument({ message: "054", sections: [section({ entries: [entry({ amount: "1.00", side: "DBIT", reference: "N1" })] })] });
    expect(camtImporter.detect(text)).toBe("camt.054");
    const items = await importCamt(text);
    expect(only(statementsOf(items)).format).toBe("camt.054");
    expect(only(linesOf(items))).toMatchObject({ amountMinor: 100n, side: "debit", bankReference: "N1" });
  });

  it("keep what a batch without transaction details says of itself (Btch)", async () => {
    const btch = "<NtryDtls><Btch><MsgId>M-1</MsgId><PmtInfId>P-1</PmtInfId><NbOfTxs>12</NbOfTxs></Btch></NtryDtls>";
    const text = camtDocument({ message: "054", sections: [section({ entries: [entry({ amount: "120.00", side: "DBIT", reference: "N2" }).replace("</Ntry>", `${btch}</Ntry>`)] })] });
    expect(only(linesOf(await importCamt(text)))).toMatchObject({ amountMinor: 12000n, batch: null, attributes: { batchMessageId: "M-1", batchPaymentInformationId: "P-1", batchTransactionCount: "12" } });
  });
});

describe("several statements in one file", () => {
  it("yields each statement's lines, then its header, in file order, and one file item at the end", async () => {
    const text = camtDocument({
      sections: [
        section({ id: "A", iban: "DE89370400440532013000", entries: [entry({ amount: "1.00", side: "CRDT", reference: "A1" }), entry({ amount: "2.00", side: "DBIT", reference: "A2" })] }),
        section({ id: "B", iban: "GB33BUKB20201555555555", currency: "GBP", entries: [entry({ amount: "3.00", currency: "GBP", side: "CRDT", reference: "B1" })] }),
      ],
    });
    const items = await importCamt(text);
    expect(items.map((item) => (item.kind === "line" ? `line ${item.section} ${item.line.bankReference ?? ""}` : item.kind === "statement" ? `statement ${item.statement.section} ${item.statement.statementReference ?? ""}` : item.kind))).toEqual([
      "line 0 A1",
      "line 0 A2",
      "statement 0 A",
      "line 1 B1",
      "statement 1 B",
      "file",
    ]);
    const [a, b] = statementsOf(items);
    expect(a).toMatchObject({ lineCount: 2, currency: "EUR", account: { iban: "DE89370400440532013000", bankId: "COBADEFFXXX" }, location: { element: "/Document/BkToCstmrStmt/Stmt[1]" } });
    expect(b).toMatchObject({ lineCount: 1, currency: "GBP", account: { iban: "GB33BUKB20201555555555" }, location: { element: "/Document/BkToCstmrStmt/Stmt[2]" } });
  });
});

describe("an entry with several transactions (a batch)", () => {
  const batch = (entryAmount: string, amounts: readonly [string, "CRDT" | "DBIT"][], reference: string | null = "BATCH-7") =>
    camtDocument({
      sections: [
        section({
          entries: [
            entry({ amount: "9.99", side: "CRDT", reference: "SINGLE-1" }),
            entry({
              amount: entryAmount,
              side: "DBIT",
              ...(reference === null ? {} : { reference }),
              info: "Sammler",
              transactions: amounts.map(([amount, side], n) =>
                transaction({ amount, side, endToEnd: `E2E-${n + 1}`, instruction: `INSTR-${n + 1}`, creditor: [`Payee ${n + 1}`, CREDITOR[1]], debtor: DEBTOR, ...(n === 1 ? { reference: "OWN-REF" } : {}) }),
              ),
            }),
          ],
        }),
      ],
    });

  it("becomes one line per transaction with its own amount, references and counterparty, the entry kept as their batch", async () => {
    const text = batch("60.00", [
      ["10.00", "DBIT"],
      ["20.00", "DBIT"],
      ["30.00", "DBIT"],
    ]);
    const items = await importCamt(text);
    const [single, ...lines] = linesOf(items);
    expect(single?.batch).toBeNull();
    expect(lines).toHaveLength(3);
    lines.forEach((line, index) => {
      expect(line).toMatchObject({
        amountMinor: [1000n, 2000n, 3000n][index],
        side: "debit",
        endToEndId: `E2E-${index + 1}`,
        customerReference: `INSTR-${index + 1}`,
        description: "Sammler",
        counterparty: { name: `Payee ${index + 1}`, iban: CREDITOR[1] },
        batch: { id: "BATCH-7", index, size: 3, amountMinor: 6000n, side: "debit" },
        location: { element: `/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/NtryDtls[1]/TxDtls[${index + 1}]` },
      });
      // The raw text: the entry up to its NtryDtls, then exactly this transaction.
      expect(line.raw.startsWith("<Ntry>")).toBe(true);
      expect(line.raw).toContain(`<EndToEndId>E2E-${index + 1}</EndToEndId>`);
      expect(line.raw).not.toContain(`<EndToEndId>E2E-${((index + 1) % 3) + 1}</EndToEndId>`);
      expect(text.split("\n")[line.location.line - 1]).toBe("<TxDtls>");
    });
    // The entry's reference is shared by its transactions: each line's identity adds its position, unless it has its own.
    expect(lines.map((line) => line.bankReference)).toEqual(["BATCH-7/1", "OWN-REF", "BATCH-7/3"]);
    expect(only(statementsOf(items)).controlTotals).toEqual([]);
  });

  it("whose transactions do not add up to the entry is reported as a control total for the checks, not refused", async () => {
    const items = await importCamt(
      batch("60.00", [
        ["10.00", "DBIT"],
        ["25.00", "DBIT"],
        ["5.00", "CRDT"],
      ]),
    );
    expect(linesOf(items)).toHaveLength(4);
    expect(only(statementsOf(items)).controlTotals).toEqual([
      { scope: "Stmt[1]/Ntry[2]/TxDtls", declaredMinor: 6000n, computedMinor: 3000n, location: { line: expect.any(Number) as number, element: "/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]" } },
    ]);
  });

  it("without an AcctSvcrRef names the batch by its entry's position and gives its lines no bank reference but their own", async () => {
    const lines = linesOf(await importCamt(batch("30.00", [["10.00", "DBIT"], ["20.00", "DBIT"]], null))).slice(1);
    expect(lines.map((line) => line.batch?.id)).toEqual(["Ntry[2]", "Ntry[2]"]);
    expect(lines.map((line) => line.bankReference)).toEqual([null, "OWN-REF"]);
  });

  it("that does not state every transaction's amount stays one line of the entry's amount", async () => {
    const text = camtDocument({
      sections: [section({ entries: [entry({ amount: "30.00", side: "CRDT", reference: "B", transactions: [transaction({ amount: "10.00", debtor: DEBTOR }), transaction({ debtor: DEBTOR })] })] })],
    });
    const line = only(linesOf(await importCamt(text)));
    expect(line).toMatchObject({ amountMinor: 3000n, side: "credit", bankReference: "B", batch: null, attributes: { transactionCount: "2" } });
    expect(line.raw).toBe(text.slice(text.indexOf("<Ntry>"), text.indexOf("</Ntry>") + "</Ntry>".length));
  });
});

describe("reversals, dates and references", () => {
  it("keeps a reversal's own booking side, and names the original debtor as the counterparty of a reversed credit", async () => {
    const text = camtDocument({
      sections: [section({ entries: [entry({ amount: "12.00", side: "DBIT", reversal: true, reference: "RV-1", transactions: [transaction({ debtor: DEBTOR, creditor: CREDITOR })] })] })],
    });
    expect(only(linesOf(await importCamt(text)))).toMatchObject({ side: "debit", reversal: true, counterparty: { name: DEBTOR[0], iban: DEBTOR[1] } });
  });

  it("reads DtTm dates as the bank's calendar day as written, without shifting them to UTC", async () => {
    const text = camtDocument({ sections: [section({ entries: [entry({ amount: "1.00", side: "CRDT", booking: "2026-03-31T23:30:00-05:00", value: "2026-04-01T00:15:00+14:00" })] })] });
    expect(only(linesOf(await importCamt(text)))).toMatchObject({ bookingDate: "2026-03-31", valueDate: "2026-04-01" });
  });

  it("reads a structured creditor reference, joins unstructured remittance lines and maps NOTPROVIDED to no end-to-end id", async () => {
    const text = camtDocument({
      sections: [section({ entries: [entry({ amount: "1.00", side: "CRDT", transactions: [transaction({ debtor: DEBTOR, creditorReference: "RF18539007547034", remittance: ["Invoice 42", "  and   43 "] })] })] })],
    });
    expect(only(linesOf(await importCamt(text)))).toMatchObject({
      creditorReference: "RF18539007547034",
      remittanceInformation: "Invoice 42 and 43",
      endToEndId: null,
      attributes: { creditorReferenceType: "SCOR" },
    });
  });

  it("a placeholder reference in any case (nonref, N/a, NotProvided) is no reference; one that only looks like it is kept", async () => {
    for (const placeholder of ["nonref", "N/a", "NotProvided", "none"]) {
      const text = camtDocument({ sections: [section({ entries: [entry({ amount: "1.00", side: "CRDT", reference: placeholder, transactions: [transaction({ endToEnd: placeholder })] })] })] });
      expect(only(linesOf(await importCamt(text))), placeholder).toMatchObject({ bankReference: null, endToEndId: null });
    }
    const kept = camtDocument({ sections: [section({ entries: [entry({ amount: "1.00", side: "CRDT", reference: "NONREF1" })] })] });
    expect(only(linesOf(await importCamt(kept))).bankReference).toBe("NONREF1");
  });

  it("uses AddtlTxInf as the description when the entry has no AddtlNtryInf", async () => {
    const text = camtDocument({ sections: [section({ entries: [entry({ amount: "1.00", side: "CRDT", transactions: [transaction({ extra: "<AddtlTxInf>SEPA Gutschrift</AddtlTxInf>" })] })] })] });
    expect(only(linesOf(await importCamt(text))).description).toBe("SEPA Gutschrift");
  });
});

describe("charges", () => {
  const withCharges = (charges: string, version = "08") =>
    camtDocument({ version, sections: [section({ entries: [entry({ amount: "100.00", side: "DBIT", reference: "C1", charges })] })] });

  it("v8: TtlChrgsAndTaxAmt when stated, else the sum of the records in the line's currency; others go to an attribute", async () => {
    const total = withCharges(`<Chrgs><TtlChrgsAndTaxAmt Ccy="EUR">2.50</TtlChrgsAndTaxAmt><Rcrd><Amt Ccy="EUR">2.00</Amt></Rcrd></Chrgs>`);
    expect(only(linesOf(await importCamt(total))).chargesMinor).toBe(250n);
    const records = withCharges(`<Chrgs><Rcrd><Amt Ccy="EUR">1.00</Amt></Rcrd><Rcrd><Amt Ccy="EUR">0.75</Amt></Rcrd><Rcrd><Amt Ccy="CHF">3.00</Amt></Rcrd></Chrgs>`);
    expect(only(linesOf(await importCamt(records)))).toMatchObject({ chargesMinor: 175n, attributes: { chargesInOtherCurrencies: "CHF 3.00" } });
  });

  it("v2: the sum of the repeated Chrgs amounts", async () => {
    const text = withCharges(`<Chrgs><Amt Ccy="EUR">1.10</Amt></Chrgs><Chrgs><Amt Ccy="EUR">0.40</Amt></Chrgs>`, "02");
    expect(only(linesOf(await importCamt(text))).chargesMinor).toBe(150n);
  });

  it("none stated: null, not zero", async () => {
    expect(only(linesOf(await importCamt(withCharges("")))).chargesMinor).toBeNull();
  });
});

describe("namespaces and versions", () => {
  const sections = [section({ entries: [entry({ amount: "5.00", side: "CRDT", reference: "NS-1", transactions: [transaction({ debtor: DEBTOR })] })] })];
  const comparable = (lines: readonly ParsedLine[]) => lines.map(({ raw: _raw, ...line }) => line);

  it("reads the same lines under a default namespace and under any prefix", async () => {
    const plain = linesOf(await importCamt(camtDocument({ sections })));
    for (const prefix of ["ns2", "camt", "x"]) {
      const text = camtDocument({ sections, prefix });
      expect(text).toContain(`<${prefix}:Ntry>`);
      const lines = linesOf(await importCamt(text, { chunkSize: 5 }));
      expect(comparable(lines)).toEqual(comparable(plain));
      expect(lines[0]?.raw.startsWith(`<${prefix}:Ntry>`)).toBe(true);
    }
  });

  it("reads every version from 001.02 to 001.08, with v2 party names (Dbtr/Nm) and v8 ones (Dbtr/Pty/Nm)", async () => {
    for (const version of ["02", "03", "04", "05", "06", "07", "08"]) {
      const text = camtDocument({ version, sections });
      expect(camtImporter.detect(text)).toBe("camt.053");
      expect(only(linesOf(await importCamt(text))).counterparty.name).toBe(DEBTOR[0]);
    }
    const v2 = camtDocument({ version: "02", sections: [section({ entries: [entry({ amount: "5.00", side: "CRDT", transactions: ["<TxDtls><RltdPties><Dbtr><Nm>Alte Form</Nm></Dbtr><DbtrAcct><Id><Othr><Id>12345678</Id></Othr></Id></DbtrAcct></RltdPties></TxDtls>"] })] })] });
    expect(only(linesOf(await importCamt(v2))).counterparty).toEqual({ name: "Alte Form", iban: null, accountNumber: "12345678", bic: null });
  });

  it("ignores supplementary data in any namespace", async () => {
    const text = camtDocument({
      sections: [section({ entries: [entry({ amount: "5.00", side: "CRDT", transactions: [transaction({ extra: `<SplmtryData><Envlp><x:Own xmlns:x="urn:bank:own"><x:Amt>nonsense</x:Amt></x:Own></Envlp></SplmtryData>` })] })] })],
    });
    expect(only(linesOf(await importCamt(text))).amountMinor).toBe(500n);
  });
});

describe("TxsSummry", () => {
  const entries = [entry({ amount: "10.00", side: "CRDT" }), entry({ amount: "2.50", side: "DBIT" }), entry({ amount: "1.25", side: "CRDT" })];
  const summary = (counts: readonly [string, string, string], sums: readonly [string, string, string], net: string) =>
    `<TxsSummry><TtlNtries><NbOfNtries>${counts[0]}</NbOfNtries><Sum>${sums[0]}</Sum><TtlNetNtry><Amt>${net}</Amt><CdtDbtInd>CRDT</CdtDbtInd></TtlNetNtry></TtlNtries>` +
    `<TtlCdtNtries><NbOfNtries>${counts[1]}</NbOfNtries><Sum>${sums[1]}</Sum></TtlCdtNtries><TtlDbtNtries><NbOfNtries>${counts[2]}</NbOfNtries><Sum>${sums[2]}</Sum></TtlDbtNtries></TxsSummry>`;

  it("sums become control totals, declared beside computed, for the checks to compare", async () => {
    const text = camtDocument({ sections: [section({ summary: summary(["3", "2", "1"], ["13.75", "11.25", "2.60"], "8.75"), entries })] });
    const totals = only(statementsOf(await importCamt(text))).controlTotals;
    expect(totals.map(({ scope, declaredMinor, computedMinor }) => ({ scope, declaredMinor, computedMinor }))).toEqual([
      { scope: "Stmt[1]/TxsSummry/TtlNtries/Sum", declaredMinor: 1375n, computedMinor: 1375n },
      { scope: "Stmt[1]/TxsSummry/TtlCdtNtries/Sum", declaredMinor: 1125n, computedMinor: 1125n },
      { scope: "Stmt[1]/TxsSummry/TtlDbtNtries/Sum", declaredMinor: 260n, computedMinor: 250n },
      { scope: "Stmt[1]/TxsSummry/TtlNtries/TtlNetNtry", declaredMinor: 875n, computedMinor: 875n },
    ]);
    expect(totals[2]?.location.element).toBe("/Document/BkToCstmrStmt/Stmt[1]/TxsSummry/TtlDbtNtries/Sum");
  });

  it("a wrong entry count is malformed: STATEMENT_RECORD_COUNT_MISMATCH at the count", async () => {
    const text = camtDocument({ sections: [section({ summary: summary(["3", "1", "1"], ["13.75", "11.25", "2.50"], "8.75"), entries })] });
    const error = await importError(text);
    expect(error.code).toBe("STATEMENT_RECORD_COUNT_MISMATCH");
    expect(locationOf(error).element).toBe("/Document/BkToCstmrStmt/Stmt[1]/TxsSummry/TtlCdtNtries/NbOfNtries");
    expect(error.detail).toMatchObject({ expected: "1", actual: "2" });
  });

  it("v2 net total (TtlNetNtryAmt with CdtDbtInd DBIT) is signed, debit negative", async () => {
    const v2 = `<TxsSummry><TtlNtries><NbOfNtries>1</NbOfNtries><TtlNetNtryAmt>4.00</TtlNetNtryAmt><CdtDbtInd>DBIT</CdtDbtInd></TtlNtries></TxsSummry>`;
    const text = camtDocument({ version: "02", sections: [section({ summary: v2, entries: [entry({ amount: "4.00", side: "DBIT" })] })] });
    expect(only(statementsOf(await importCamt(text))).controlTotals).toMatchObject([{ scope: "Stmt[1]/TxsSummry/TtlNtries/TtlNetNtry", declaredMinor: -400n, computedMinor: -400n }]);
  });
});

describe("period and currency", () => {
  it("takes the period from FrToDt, as the dates written", async () => {
    const text = camtDocument({ sections: [section({ period: ["2026-03-01", "2026-03-31"], entries: [entry({ amount: "1.00", side: "CRDT", booking: "2026-03-15" })] })] });
    expect(only(statementsOf(await importCamt(text)))).toMatchObject({ periodStart: "2026-03-01", periodEnd: "2026-03-31" });
  });

  it("without FrToDt spans the lines' dates and the closing balance's date", async () => {
    const text = camtDocument({
      sections: [section({ balances: [balance("OPBD", "0", "CRDT", "2026-02-27"), balance("CLBD", "3.00", "CRDT", "2026-03-31")], entries: [entry({ amount: "1.00", side: "CRDT", booking: "2026-03-15" }), entry({ amount: "2.00", side: "CRDT", booking: "2026-03-02" })] })],
    });
    expect(only(statementsOf(await importCamt(text)))).toMatchObject({ periodStart: "2026-03-02", periodEnd: "2026-03-31" });
  });

  it("without Acct/Ccy takes the balances' currency, else the entries'", async () => {
    const withBalance = camtDocument({ sections: [section({ currency: "", balances: [balance("OPBD", "1.00", "CRDT", "2026-03-01", "CHF")], entries: [] })] });
    expect(only(statementsOf(await importCamt(withBalance))).currency).toBe("CHF");
    const withEntry = camtDocument({ sections: [section({ currency: "", entries: [entry({ amount: "1", currency: "JPY", side: "CRDT" })] })] });
    expect(only(statementsOf(await importCamt(withEntry))).currency).toBe("JPY");
  });

  it("an empty statement (no entries) is a statement with no lines", async () => {
    const text = camtDocument({ sections: [section({ balances: [balance("OPBD", "7.00", "DBIT", "2026-03-31"), balance("CLBD", "7.00", "DBIT", "2026-03-31")], entries: [] })] });
    const items = await importCamt(text);
    expect(linesOf(items)).toEqual([]);
    expect(only(statementsOf(items))).toMatchObject({ lineCount: 0, openingBalance: { side: "debit", amountMinor: 700n } });
  });
});

describe("detection", () => {
  it("recognises camt.052/053/054 001.02-001.08 by the XML namespace and nothing else", () => {
    expect(camtImporter.detect(camtDocument({ message: "053", version: "02", sections: [] }))).toBe("camt.053");
    expect(camtImporter.detect(camtDocument({ message: "054", version: "08", prefix: "ns2", sections: [] }))).toBe("camt.054");
    expect(camtImporter.detect(camtDocument({ message: "053", version: "09", sections: [] }))).toBeUndefined();
    expect(camtImporter.detect(camtDocument({ message: "053", version: "01", sections: [] }))).toBeUndefined();
    expect(camtImporter.detect("date;amount;text\n2026-03-31;1.00;urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\n")).toBeUndefined();
    expect(camtImporter.detect(":20:STMT\n:25:DE89370400440532013000\n")).toBeUndefined();
  });
});
