// One CSV row read with its profile into a statement line. Every fault names
// the row's first physical line and the column (its header name or index).
import { NO_BANK_CODES, STATEMENT_LINE_LIMITS, isValidIban, normaliseIban } from "@trueup/contracts";
import type { CsvProfile, ParsedLine, SourceLocation } from "@trueup/contracts";
import { cleanText, parseSignedAmount, statementError } from "../shared.ts";
import { parseCsvDate } from "./dates.ts";
import type { ResolvedColumns } from "./columns.ts";

/** What banks write where they have no reference: never a line identity (see ParsedLine.bankReference). */
const PLACEHOLDER_REFERENCES = new Set(["NONREF", "NOTPROVIDED", "NOT PROVIDED", "NONE", "N/A", "-"]);


export interface Row {
  readonly fields: readonly string[];
  /** The row as in the file, without its line break. */
  readonly raw: string;
  /** 1-based physical line the row starts on. */
  readonly line: number;
}

export function rowToLine(row: Row, options: { profile: CsvProfile; columns: ResolvedColumns }): ParsedLine {
  const { profile, columns } = options;
  const cell = new Cells(row, columns);
  const currency = rowCurrency(cell, profile);
  const amounts = { currency, profile };
  const { amountMinor, side } = movement(cell, amounts);
  const bookingDate = parseCsvDate(cell.value("bookingDate"), profile.dateFormat, cell.at("bookingDate"));
  const valueText = cell.value("valueDate");
  const attributes: Record<string, string> = {};
  for (const name of Object.keys(profile.columns.attributes ?? {})) {
    const value = cleanText(cell.value(`attributes.${name}`));
    // Attributes are extras for the matcher and auditors: a longer value is cut to the bound, not refused.
    if (value !== null) attributes[name] = truncated(value, STATEMENT_LINE_LIMITS.fieldLengthMax);
  }
  for (const name of Object.keys(profile.columns.amountAttributes ?? {})) {
    const amount = signedAmountOf(cell, `amountAttributes.${name}`, amounts);
    if (amount !== undefined) attributes[name] = `${amount.negative && amount.amountMinor > 0n ? "-" : ""}${amount.amountMinor}`;
  }
  const written = cleanText(cell.value("counterpartyIban"));
  const iban = written === null ? null : normaliseIban(written);
  const ibanValid = iban !== null && isValidIban(iban);
  const accountNumber = reference(cell, "counterpartyAccountNumber") ?? (ibanValid ? null : checkedField(cell, "counterpartyIban", iban));
  return {
    amountMinor,
    side,
    currency,
    bookingDate,
    valueDate: valueText.trim() === "" ? null : parseCsvDate(valueText, profile.dateFormat, cell.at("valueDate")),
    reversal: false,
    bankReference: reference(cell, "bankReference"),
    endToEndId: reference(cell, "endToEndId"),
    customerReference: reference(cell, "customerReference"),
    creditorReference: reference(cell, "creditorReference"),
    // Free text is cut to the bound (say so: the raw row keeps all of it); references are refused instead.
    remittanceInformation: text(cell, "remittanceInformation", STATEMENT_LINE_LIMITS.textLengthMax),
    description: text(cell, "description", STATEMENT_LINE_LIMITS.textLengthMax),
    counterparty: {
      name: text(cell, "counterpartyName", STATEMENT_LINE_LIMITS.fieldLengthMax),
      iban: ibanValid ? iban : null,
      accountNumber,
      bic: reference(cell, "counterpartyBic")?.toUpperCase() ?? null,
    },
    bankCodes: { ...NO_BANK_CODES, proprietary: reference(cell, "bankCode"), psp: reference(cell, "pspCategory") },
    chargesMinor: signedAmountOf(cell, "charges", amounts)?.amountMinor ?? null,
    // A PSP payout's size is known only at the file's end: the payout id is an attribute (Stripe: payoutId), not a batch.
    batch: null,
    attributes,
    raw: row.raw,
    location: { line: row.line },
  };
}

interface SignedAmount {
  amountMinor: bigint;
  negative: boolean;
}

/** The field's signed amount, or undefined when the cell is empty. */
function signedAmountOf(cell: Cells, field: string, options: { currency: string; profile: CsvProfile }): SignedAmount | undefined {
  const value = cell.value(field);
  if (value === "") return undefined;
  const { profile } = options;
  return parseSignedAmount(value, { currency: options.currency, decimal: profile.decimalSeparator, thousands: profile.thousandsSeparator, location: cell.at(field) });
}

/** The cells of one row by mapped field: "" for a field that is not mapped or whose optional column the file lacks. */
class Cells {
  constructor(
    private readonly row: Row,
    private readonly columns: ResolvedColumns,
  ) {}

  value(field: string): string {
    const column = this.columns.get(field);
    return column === undefined ? "" : (this.row.fields[column.index] ?? "");
  }

  at(field: string): SourceLocation {
    const column = this.columns.get(field);
    return column === undefined ? { line: this.row.line } : { line: this.row.line, column: column.label };
  }
}

function rowCurrency(cell: Cells, profile: CsvProfile): string {
  const written = cell.value("currency").trim().toUpperCase();
  if (written === "") {
    if (profile.currency !== undefined) return profile.currency;
    throw statementError("STATEMENT_MALFORMED", "the row has no currency and the profile names none", cell.at("currency"));
  }
  if (!/^[A-Z]{3}$/.test(written)) throw statementError("STATEMENT_MALFORMED", `${JSON.stringify(written)} is not a currency code`, cell.at("currency"));
  return written;
}

/** The row's amount and direction: one signed column, or a debit and a credit column with one of them filled. */
function movement(cell: Cells, amounts: { currency: string; profile: CsvProfile }): { amountMinor: bigint; side: "debit" | "credit" } {
  const { profile } = amounts;
  if (profile.columns.amount !== undefined) {
    const amount = signedAmountOf(cell, "amount", amounts);
    if (amount === undefined) throw statementError("STATEMENT_AMOUNT_INVALID", "the row has no amount", cell.at("amount"));
    const positive = profile.positiveMeans;
    const negative = positive === "credit" ? "debit" : "credit";
    return { amountMinor: amount.amountMinor, side: amount.negative && amount.amountMinor > 0n ? negative : positive };
  }
  const debit = signedAmountOf(cell, "debit", amounts);
  const credit = signedAmountOf(cell, "credit", amounts);
  // Debits are written "12.50" by some banks and "-12.50" by others: both are money out.
  if (credit?.negative === true && credit.amountMinor > 0n) throw statementError("STATEMENT_AMOUNT_INVALID", "a negative amount in the credit column", cell.at("credit"));
  if (debit === undefined && credit === undefined) throw statementError("STATEMENT_MALFORMED", "the row fills neither the debit nor the credit column", cell.at("debit"));
  // Some exports write 0,00 in the column that does not apply: a zero beside an amount is empty.
  const debitMinor = debit?.amountMinor ?? 0n;
  const creditMinor = credit?.amountMinor ?? 0n;
  if (debitMinor > 0n && creditMinor > 0n) throw statementError("STATEMENT_MALFORMED", "the row fills both the debit and the credit column", cell.at("credit"));
  return debitMinor > 0n ? { amountMinor: debitMinor, side: "debit" } : { amountMinor: creditMinor, side: credit === undefined ? "debit" : "credit" };
}

/** An identifying text: null when empty or a placeholder, refused when longer than a reference may be (a cut one would mis-identify the line). */
function reference(cell: Cells, field: string): string | null {
  const value = cleanText(cell.value(field));
  if (value === null || PLACEHOLDER_REFERENCES.has(value.toUpperCase())) return null;
  return checkedField(cell, field, value);
}

function checkedField(cell: Cells, field: string, value: string | null): string | null {
  if (value !== null && value.length > STATEMENT_LINE_LIMITS.fieldLengthMax) {
    throw statementError("STATEMENT_MALFORMED", `${value.length} characters, more than the ${STATEMENT_LINE_LIMITS.fieldLengthMax} a reference may have`, cell.at(field));
  }
  return value;
}

function text(cell: Cells, field: string, lengthMax: number): string | null {
  const value = cleanText(cell.value(field));
  return value === null ? null : truncated(value, lengthMax);
}

/** At most `lengthMax` UTF-16 units, never half a surrogate pair. */
function truncated(value: string, lengthMax: number): string {
  if (value.length <= lengthMax) return value;
  const cut = value.slice(0, lengthMax);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}
