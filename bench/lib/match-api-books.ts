// The matching bench's books (bench/lib/match-books.ts) as the platform
// receives them: the statement lines as a CSV export with its mapping
// profile, the ledger lines as journal entries on the bank's ledger account,
// and the ids the platform gives both, so the designed matches can be looked
// for among the matches the API lists.
//
// - A statement line's id is `ref:<bankReference>#1` (command-side/src/
//   reconciliation/import/line-id.ts: the bank's own reference is the
//   identity when the line has one). Every generated line has a bank
//   reference of its own (a BK26… serial, or a Stripe payout id), so the id
//   is known before the import.
// - A ledger line is posted as one 2-line entry: line 0 on the bank's ledger
//   account (debit for money in), line 1 on the item's contra account; its
//   entryId is the generated id with `-` as `_` (entry ids allow letters,
//   digits, `_` and `.`), so its item id `<entryId>:0` is known as well.
//   The entry's externalReference, description and metadata.counterparty /
//   counterpartyIban are what the run reads back as the item's reference,
//   description and counterparty (command-side/src/reconciliation/matches/
//   items.ts).
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { CsvProfile } from "@trueup/contracts";
import type { ExternalItem, InternalItem } from "../../command-side/src/reconciliation/matching/types.ts";
import type { DesignedMatch } from "./match-books.ts";
import { BENCH_CSV_FORMAT } from "./statement-generators.ts";

/** The bank's ledger account (prepareTarget in ingest-platform.ts opens it and links the bank account to it). */
export const BANK_LEDGER_ACCOUNT = "1100";

/** The contra accounts match-books uses (CONTRA there) and the rules' write-off account, opened before the postings. */
export const CONTRA_ACCOUNTS = [
  { code: "1400", name: "Receivables", type: "asset" },
  { code: "1600", name: "Payables", type: "liability" },
  { code: "8400", name: "Revenue", type: "revenue" },
  { code: "4900", name: "Other expenses", type: "expense" },
  { code: "4970", name: "PSP fees", type: "expense" },
  { code: "6800", name: "Write-offs", type: "expense" },
] as const;

/** Rows per write to the file: about 1 MB, so the CSV is never held whole. */
const ROWS_PER_WRITE = 5_000;

const CSV_HEADER = ["bank_reference", "booking_date", "value_date", "amount", "currency", "description", "remittance", "end_to_end_id", "customer_reference", "counterparty", "counterparty_iban"] as const;

/** The mapping of the bench's CSV: save it as a profile (POST /ledgers/{id}/csv-profiles) to import the file. */
export const MATCH_API_CSV_PROFILE = {
  name: "Matching bench CSV",
  ...BENCH_CSV_FORMAT,
  columns: {
    bookingDate: "booking_date",
    valueDate: "value_date",
    amount: "amount",
    currency: "currency",
    description: "description",
    remittanceInformation: "remittance",
    bankReference: "bank_reference",
    endToEndId: "end_to_end_id",
    customerReference: "customer_reference",
    counterpartyName: "counterparty",
    counterpartyIban: "counterparty_iban",
  },
} as const satisfies CsvProfile;

/** Signed minor units of a 2-decimal currency as `-1234.56`. */
function decimal(amountMinor: bigint): string {
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(3, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** RFC 4180 quoting, only where needed. */
function csvField(text: string | null): string {
  if (text === null) return "";
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRow(e: ExternalItem): string {
  const fields = [e.bankReference, e.bookingDate, e.valueDate, decimal(e.amountMinor), e.currency, e.description, e.remittanceInformation, e.endToEndId, e.customerReference, e.counterpartyName, e.counterpartyIban];
  return `${fields.map(csvField).join(",")}\r\n`;
}

/** The statement lines as one CSV export (CRLF rows, a header row, signed amounts); read it with MATCH_API_CSV_PROFILE. */
export async function writeStatementCsv(external: readonly ExternalItem[], path: string): Promise<{ readonly bytes: number; readonly lines: number }> {
  const stream = createWriteStream(path, { encoding: "utf8" });
  let bytes = 0;
  const write = async (text: string): Promise<void> => {
    bytes += Buffer.byteLength(text, "utf8");
    if (!stream.write(text)) await once(stream, "drain");
  };
  try {
    await write(`${CSV_HEADER.join(",")}\r\n`);
    for (let at = 0; at < external.length; at += ROWS_PER_WRITE) {
      const rows: string[] = [];
      for (const e of external.slice(at, at + ROWS_PER_WRITE)) {
        if (e.bankReference === null || e.bookingDate === null) throw new Error(`generated line ${e.id} has no bank reference or booking date: its line id would not be known`);
        rows.push(csvRow(e));
      }
      await write(rows.join(""));
    }
    stream.end();
    await once(stream, "close");
  } catch (error) {
    stream.destroy();
    throw error;
  }
  return { bytes, lines: external.length };
}

/** The platform's id of a generated statement line. */
export function lineIdOf(e: ExternalItem): string {
  if (e.bankReference === null) throw new Error(`generated line ${e.id} has no bank reference`);
  return `ref:${e.bankReference}#1`;
}

/** The entry id a generated ledger line is posted under (`int-000001:0` → `int_000001`). */
export function entryIdOf(generatedId: string): string {
  const entry = generatedId.slice(0, generatedId.lastIndexOf(":")).replaceAll("-", "_");
  if (!/^[A-Za-z0-9][A-Za-z0-9_.]{0,63}$/.test(entry)) throw new Error(`generated ledger line id ${generatedId} makes no entry id`);
  return entry;
}

/** The platform's item id of a generated ledger line: its entry, line 0 (the bank's ledger account). */
export function internalItemIdOf(generatedId: string): string {
  return `${entryIdOf(generatedId)}:0`;
}

/** The POST /ledgers/{id}/journal-entries body of one generated ledger line. */
export function journalEntryBody(item: InternalItem): Record<string, unknown> {
  const contra = item.contraAccounts[0];
  if (contra === undefined) throw new Error(`generated ledger line ${item.id} has no contra account`);
  if (item.amountMinor === 0n) throw new Error(`generated ledger line ${item.id} has no amount`);
  const amount = decimal(item.amountMinor < 0n ? -item.amountMinor : item.amountMinor);
  const bankSide = item.amountMinor > 0n ? "debit" : "credit";
  const contraSide = bankSide === "debit" ? "credit" : "debit";
  const metadata: Record<string, string> = {};
  if (item.counterpartyName !== null) metadata.counterparty = item.counterpartyName;
  if (item.counterpartyIban !== null) metadata.counterpartyIban = item.counterpartyIban;
  return {
    entryId: entryIdOf(item.id),
    effectiveDate: item.date,
    description: item.description ?? "Bank movement",
    ...(item.reference === null ? {} : { externalReference: item.reference }),
    ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
    lines: [
      { account: BANK_LEDGER_ACCOUNT, side: bankSide, amount, currency: item.currency },
      { account: contra, side: contraSide, amount, currency: item.currency },
    ],
  };
}

/** A designed match in the platform's ids, as a key: sorted external ids | sorted internal ids. */
export function matchKey(externalIds: readonly string[], internalIds: readonly string[]): string {
  return `${[...externalIds].sort().join(",")}|${[...internalIds].sort().join(",")}`;
}

/** The designed matches keyed by the platform's ids, with their category. */
export function designedOnPlatform(external: readonly ExternalItem[], designed: readonly DesignedMatch[]): Map<string, DesignedMatch> {
  const lineIds = new Map(external.map((e) => [e.id, lineIdOf(e)]));
  const byKey = new Map<string, DesignedMatch>();
  for (const d of designed) {
    const externalIds = d.externalIds.map((id) => {
      const lineId = lineIds.get(id);
      if (lineId === undefined) throw new Error(`designed match names unknown line ${id}`);
      return lineId;
    });
    byKey.set(matchKey(externalIds, d.internalIds.map(internalItemIdOf)), d);
  }
  return byKey;
}
