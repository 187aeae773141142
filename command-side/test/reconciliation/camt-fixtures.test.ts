// Proves that the camt importer reads the real samples (genkgo/camt's test
// data: camt.053 v2 and v8, camt.054 v8) as their own project does: the
// same entries and transactions, amounts, currencies, dates, references,
// parties and balances as each `*.expected.json` (genkgo's dump), and that
// the result does not depend on how the text is cut into chunks or on its
// line endings. Where we differ from genkgo on purpose it is said at the
// assertion.
import { describe, expect, it } from "vitest";
import type { ParsedLine, StatementItem } from "@trueup/contracts";
import { camtImporter } from "../../src/reconciliation/importers/camt/index.ts";
import { detectFormat, importerFor } from "../../src/reconciliation/importers/index.ts";
import { expectedOf, fixture, importCamt, linesOf, statementsOf } from "./camt-samples.ts";

const FIXTURES = [
  { file: "camt053.v2.minimal.xml", format: "camt.053" },
  { file: "camt053.v8.xml", format: "camt.053" },
  { file: "camt054.v8.xml", format: "camt.054" },
] as const;

// ---- genkgo's dump: objects with getters, repeated objects written as "__RECURSIVITY__" ----
interface GMoney {
  getAmount: string;
  getCurrency: { getCode: string };
}
interface GParty {
  getAccount: { getIdentification: string } | null;
  getRelatedPartyType: { __CLASS__: string; getName: string | null };
}
interface GTransaction {
  getAmount: GMoney | null;
  getReference: { getEndToEndId: string | null; getInstructionId: string | null; getAccountServicerReference: string | null } | null;
  getRelatedParties: GParty[];
  getRemittanceInformation: {
    getCreditorReferenceInformation: { getRef: string } | null | "__RECURSIVITY__";
    getStructuredBlocks: ({ getCreditorReferenceInformation: { getRef: string } | null } | "__RECURSIVITY__")[];
    getStructuredBlock: { getCreditorReferenceInformation: { getRef: string } | null | "__RECURSIVITY__" } | null;
    getUnstructuredBlocks: ({ getMessage: string } | "__RECURSIVITY__")[];
    getUnstructuredBlock: { getMessage: string } | null;
  } | null;
}
interface GEntry {
  getAmount: GMoney;
  getAccountServicerReference: string | null;
  getBookingDate: { "0": string } | null;
  getValueDate: { "0": string } | null;
  getReversalIndicator: boolean;
  getStatus: string | null;
  getAdditionalInfo: string;
  getBankTransactionCode: { getDomain: { getCode: string; getFamily: { getCode: string; getSubFamilyCode: string } } | null; getProprietary: { getCode: string } | null };
  getTransactionDetail: GTransaction;
  getTransactionDetails: (GTransaction | "__RECURSIVITY__")[];
  getRecord: {
    getAccount: { getIdentification: string };
    getId: string;
    getElectronicSequenceNumber: string;
    getLegalSequenceNumber: string;
    getBalances?: { getAmount: GMoney; getType: string; getDate: { "0": string } }[];
  };
}

function transactionsOf(entry: GEntry): GTransaction[] {
  return entry.getTransactionDetails.map((tx) => (tx === "__RECURSIVITY__" ? entry.getTransactionDetail : tx));
}

/** genkgo signs amounts (debit negative); we keep an unsigned amount and a side. */
function unsigned(money: GMoney): { amountMinor: bigint; side: "credit" | "debit"; currency: string } {
  const negative = money.getAmount.startsWith("-");
  return { amountMinor: BigInt(negative ? money.getAmount.slice(1) : money.getAmount), side: negative ? "debit" : "credit", currency: money.getCurrency.getCode };
}

/** genkgo's first creditor reference: the structured block's, else the first block's. */
function creditorReference(tx: GTransaction): string | null {
  const info = tx.getRemittanceInformation;
  if (info === null) return null;
  const blocks = info.getStructuredBlocks.map((block) => (block === "__RECURSIVITY__" ? info.getStructuredBlock : block));
  for (const block of blocks) {
    const ref = block?.getCreditorReferenceInformation;
    if (ref === "__RECURSIVITY__") return info.getCreditorReferenceInformation === "__RECURSIVITY__" ? null : (info.getCreditorReferenceInformation?.getRef ?? null);
    if (ref != null) return ref.getRef;
  }
  return null;
}

function unstructured(tx: GTransaction): string | null {
  const info = tx.getRemittanceInformation;
  if (info === null) return null;
  const blocks = info.getUnstructuredBlocks.map((block) => (block === "__RECURSIVITY__" ? info.getUnstructuredBlock : block));
  const text = blocks.flatMap((block) => (block === null ? [] : [block.getMessage])).join(" ");
  return text === "" ? null : text;
}

function party(tx: GTransaction, kind: "Debtor" | "Creditor"): { name: string | null; account: string | null } {
  const found = tx.getRelatedParties.find((p) => p.getRelatedPartyType.__CLASS__.endsWith(`\\${kind}`));
  return { name: found?.getRelatedPartyType.getName ?? null, account: found?.getAccount?.getIdentification ?? null };
}

/** The lines of each entry, in order: a batch's lines share their batch id, a single line is its own entry. */
function groupByEntry(lines: readonly ParsedLine[]): ParsedLine[][] {
  const groups: ParsedLine[][] = [];
  for (const line of lines) {
    const last = groups.at(-1);
    if (line.batch !== null && line.batch.index > 0 && last !== undefined) last.push(line);
    else groups.push([line]);
  }
  return groups;
}

describe.each(FIXTURES)("the real sample $file", ({ file, format }) => {
  const text = fixture(file);
  const expected = expectedOf(file.replace(/\.xml$/, ".expected.json")) as { getEntries: GEntry[] };

  it(`is detected as ${format} and read by the camt importer`, () => {
    expect(detectFormat(text.slice(0, 4096))).toBe(format);
    expect(importerFor(format)).toBe(camtImporter);
  });

  it("has genkgo's entries with their amounts, sides, dates, references, status and bank codes", async () => {
    const lines = linesOf(await importCamt(text));
    const entries = groupByEntry(lines);
    expect(entries).toHaveLength(expected.getEntries.length);
    expected.getEntries.forEach((want, n) => {
      const got = entries[n] ?? [];
      const first = got[0];
      if (first === undefined) throw new Error(`entry ${n} has no line`);
      const entryAmount = first.batch === null ? { amountMinor: first.amountMinor, side: first.side, currency: first.currency } : { amountMinor: first.batch.amountMinor, side: first.batch.side, currency: want.getAmount.getCurrency.getCode };
      expect(entryAmount).toEqual(unsigned(want.getAmount));
      for (const line of got) {
        // genkgo turns DtTm into UTC; we keep the bank's calendar day as written (the samples' times do not cross midnight).
        expect(line.bookingDate).toBe(want.getBookingDate?.["0"].slice(0, 10) ?? null);
        expect(line.valueDate).toBe(want.getValueDate?.["0"].slice(0, 10) ?? null);
        expect(line.reversal).toBe(want.getReversalIndicator);
        expect(line.attributes.status).toBe(want.getStatus ?? undefined);
        expect(line.description).toBe(want.getAdditionalInfo === "" ? null : want.getAdditionalInfo);
        const codes = want.getBankTransactionCode;
        expect(line.bankCodes.domain).toBe(codes.getDomain?.getCode ?? null);
        expect(line.bankCodes.family).toBe(codes.getDomain?.getFamily.getCode ?? null);
        expect(line.bankCodes.subFamily).toBe(codes.getDomain?.getFamily.getSubFamilyCode ?? null);
        expect(line.bankCodes.proprietary).toBe(codes.getProprietary?.getCode ?? null);
      }
      const reference = want.getAccountServicerReference;
      if (first.batch === null) expect(first.bankReference).toBe(reference);
      else expect(first.batch.id).toBe(reference ?? `Ntry[${n + 1}]`);
    });
  });

  it("has genkgo's transactions: one line each in a batch, with amounts, references, remittance and parties", async () => {
    const entries = groupByEntry(linesOf(await importCamt(text)));
    expected.getEntries.forEach((want, n) => {
      const got = entries[n] ?? [];
      const transactions = transactionsOf(want);
      expect(got).toHaveLength(Math.max(transactions.length, 1));
      transactions.forEach((tx, index) => {
        const line = got[index];
        if (line === undefined) throw new Error(`transaction ${index} of entry ${n} has no line`);
        if (line.batch !== null) {
          expect(line.batch).toMatchObject({ index, size: transactions.length });
          const amount = tx.getAmount;
          if (amount === null) throw new Error("a split batch states every amount");
          // genkgo signs a transaction by its entry's direction; we keep the TxDtls' own CdtDbtInd (the sample says CRDT in a DBIT batch).
          expect({ amountMinor: line.amountMinor, currency: line.currency }).toEqual({ amountMinor: unsigned(amount).amountMinor, currency: amount.getCurrency.getCode });
          // A batch's transactions share the entry's AcctSvcrRef: the line's identity adds its position.
          expect(line.bankReference).toBe(tx.getReference?.getAccountServicerReference ?? (want.getAccountServicerReference === null ? null : `${want.getAccountServicerReference}/${index + 1}`));
        } else if (tx.getAmount !== null) {
          // One transaction: the line is the entry (what moved on the account); a differing transaction amount is kept beside it.
          const amount = unsigned(tx.getAmount);
          if (amount.currency !== line.currency || amount.amountMinor !== line.amountMinor) expect(line.attributes.transactionAmount).toMatch(new RegExp(`^${amount.currency} \\d`));
        }
        expect(line.endToEndId).toBe(tx.getReference?.getEndToEndId ?? null);
        expect(line.customerReference).toBe(tx.getReference?.getInstructionId ?? null);
        expect(line.creditorReference).toBe(creditorReference(tx));
        expect(line.remittanceInformation).toBe(unstructured(tx));
        const debtor = party(tx, "Debtor");
        const creditor = party(tx, "Creditor");
        expect({ name: line.attributes.debtorName ?? null, account: line.attributes.debtorAccount ?? null }).toEqual(debtor);
        expect({ name: line.attributes.creditorName ?? null, account: line.attributes.creditorAccount ?? null }).toEqual(creditor);
        // The counterparty is the payer of money in, the payee of money out.
        const counterparty = line.side === "credit" ? debtor : creditor;
        expect({ name: line.counterparty.name, account: line.counterparty.iban }).toEqual(counterparty);
      });
    });
  });

  it("has genkgo's statement header: account, id, sequence numbers and balances", async () => {
    const [statement, ...others] = statementsOf(await importCamt(text));
    expect(others).toHaveLength(0);
    if (statement === undefined) throw new Error("no statement");
    const record = expected.getEntries[0]?.getRecord;
    if (record === undefined) throw new Error("the dump has no record");
    expect(statement.format).toBe(format);
    expect(statement.account.iban ?? statement.account.accountNumber).toBe(record.getAccount.getIdentification);
    expect(statement.statementReference).toBe(record.getId);
    expect(statement.sequenceNumber).toBe(record.getElectronicSequenceNumber);
    expect(statement.pageNumber).toBe(record.getLegalSequenceNumber);
    expect(statement.lineCount).toBe(linesOf(await importCamt(text)).length);
    const balances = record.getBalances ?? [];
    const byType = new Map(balances.map((b) => [b.getType, { ...unsigned(b.getAmount), date: b.getDate["0"].slice(0, 10) }]));
    const pick = (b: typeof statement.openingBalance) => (b === null ? undefined : { amountMinor: b.amountMinor, side: b.side, currency: b.currency, date: b.date });
    expect(pick(statement.openingBalance)).toEqual(byType.get("opening"));
    expect(pick(statement.closingBalance)).toEqual(byType.get("closing"));
    expect(pick(statement.availableBalance)).toEqual(byType.get("closing_available"));
  });

  it("keeps each line's exact XML, located at its element and physical line", async () => {
    for (const line of linesOf(await importCamt(text))) {
      expect(text).toContain(line.batch === null ? line.raw : line.raw.slice(line.raw.indexOf("<TxDtls")));
      const element = line.location.element ?? "";
      const name = /\/(\w+)\[\d+\]$/.exec(element)?.[1];
      expect(name).toBe(line.batch === null ? "Ntry" : "TxDtls");
      expect(text.split("\n")[line.location.line - 1]?.trim()).toBe(`<${name ?? ""}>`);
    }
  });

  it("gives the same items whatever the chunk size (1, 7, 4096 characters) and with CRLF line ends", async () => {
    const whole = await importCamt(text);
    for (const chunkSize of [1, 7, 4096]) expect(await importCamt(text, { chunkSize })).toEqual(whole);
    const crlf = await importCamt(text.replace(/\n/g, "\r\n"), { chunkSize: 3 });
    const withoutRaw = (items: StatementItem[]) => items.map((item) => (item.kind === "line" ? { ...item, line: { ...item.line, raw: item.line.raw.replace(/\r\n/g, "\n") } } : item));
    expect(withoutRaw(crlf)).toEqual(withoutRaw(whole));
    expect(crlf.flatMap((item) => (item.kind === "line" ? [item.line.raw] : [])).every((raw) => raw.includes("\r\n"))).toBe(true);
  });

  it("ends with one file item and no control totals it cannot compute (the samples have no TxsSummry)", async () => {
    const items = await importCamt(text);
    expect(items.at(-1)).toEqual({ kind: "file", controlTotals: [] });
    expect(statementsOf(items)[0]?.controlTotals).toEqual([]);
  });
});
