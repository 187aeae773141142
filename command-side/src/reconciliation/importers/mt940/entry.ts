// One `:61:` statement line, SWIFT `6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]`
// then `[34x]` on the next line:
//   value date YYMMDD, entry date MMDD, mark (C D RC RD; MT942 also EC ED),
//   funds code, amount (comma decimal), type (N|F|S + 3), reference for the
//   account owner, `//` bank reference, supplementary details.
// Everything up to the type is mandatory: a :61: cut before it (or with an
// empty owner reference, which SWIFT fills with NONREF) is malformed.
import type { Side, SourceLocation } from "@trueup/contracts";
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import { checkedDate, cleanText, statementError } from "../shared.ts";
import type { MtField } from "./fields.ts";
import { amountOf, dateOf, locationOf, referenceOf } from "./tags.ts";

export type EntryMark = "C" | "D" | "RC" | "RD" | "EC" | "ED";

/** SWIFT's bank reference is 16x; see bankReferenceOf for what longer text means. */
const BANK_REFERENCE_LENGTH = 16;
const CUSTOMER_REFERENCE_LENGTH = 16;

export interface MtEntry {
  readonly valueDate: string;
  readonly entryDate: string | null;
  readonly mark: EntryMark;
  /** The booking's own direction: RC (reversal of a credit) is a debit, RD a credit; EC/ED are expected credits/debits. */
  readonly side: Side;
  readonly reversal: boolean;
  readonly fundsCode: string | null;
  readonly amountMinor: bigint;
  /** `NTRF`, `NCHK`, `FMSC`, `S103`. */
  readonly typeCode: string;
  readonly customerReference: string | null;
  readonly bankReference: string | null;
  readonly supplementaryDetails: string | null;
}

const MARKS: readonly (readonly [EntryMark, Side, boolean])[] = [
  ["RC", "debit", true],
  ["RD", "credit", true],
  ["EC", "credit", false],
  ["ED", "debit", false],
  ["C", "credit", false],
  ["D", "debit", false],
];

export function parseEntry(field: MtField, currency: string): MtEntry {
  const location = locationOf(field);
  const text = (field.lines[0] ?? "").trimEnd();
  const valueDate = dateOf(text, location, "value date");
  let at = 6;
  let entryDate: string | null = null;
  if (/^\d{4}/.test(text.slice(at))) {
    entryDate = entryDateOf(text.slice(at, at + 4), valueDate, location);
    at += 4;
  }
  const found = MARKS.find(([mark]) => text.startsWith(mark, at));
  if (found === undefined) throw statementError("STATEMENT_MALFORMED", `no debit/credit mark (C, D, RC, RD, EC, ED) at ${JSON.stringify(text.slice(at, at + 4))}`, location);
  const [mark, side, reversal] = found;
  at += mark.length;
  let fundsCode: string | null = null;
  if (/^[A-Z]/.test(text.slice(at))) fundsCode = text.slice(at, ++at);
  const amountText = /^[0-9.,]*/.exec(text.slice(at))?.[0] ?? "";
  const amountMinor = amountOf(amountText, currency, location);
  at += amountText.length;
  const typeCode = /^[NFS][A-Z0-9]{3}/.exec(text.slice(at))?.[0];
  if (typeCode === undefined) throw statementError("STATEMENT_MALFORMED", `no transaction type (N, F or S and three characters) at ${JSON.stringify(text.slice(at, at + 4))}`, location);
  at += typeCode.length;
  const references = referencesOf(text.slice(at), location);
  const following = field.lines.slice(1).join(" ");
  const supplementary = cleanText([references.supplementary, following].join(" "));
  return {
    valueDate,
    entryDate,
    mark,
    side,
    reversal,
    fundsCode,
    amountMinor,
    typeCode,
    customerReference: references.customer,
    bankReference: references.bank,
    supplementaryDetails: supplementary === null ? null : supplementary.slice(0, STATEMENT_LINE_LIMITS.fieldLengthMax),
  };
}

/**
 * The entry date's year is the one that puts it nearest the value date: a
 * value date of 31 Dec with entry 0102 is booked in the next year, a value
 * date of 2 Jan with entry 1231 in the year before.
 */
function entryDateOf(mmdd: string, valueDate: string, location: SourceLocation): string {
  const valueYear = Number(valueDate.slice(0, 4));
  const valueMonth = Number(valueDate.slice(5, 7));
  const month = Number(mmdd.slice(0, 2));
  const day = Number(mmdd.slice(2));
  const year = month - valueMonth > 6 ? valueYear - 1 : valueMonth - month > 6 ? valueYear + 1 : valueYear;
  return checkedDate(year, month, day, location);
}

/**
 * `16x[//16x]` and the rest of the line. The owner's reference runs to `//`
 * (or is the first 16 characters when there is none); the bank's after it
 * is 16x by SWIFT, and some banks write supplementary details on the same
 * line right after it. Longer text without a space is kept whole as the
 * bank reference (a bank with longer ids): cutting it would give two lines
 * the same identity; with a space, the first 16 characters are the
 * reference and the rest is supplementary details.
 */
function referencesOf(rest: string, location: SourceLocation): { customer: string | null; bank: string | null; supplementary: string } {
  if (rest.trim() === "") throw statementError("STATEMENT_MALFORMED", "no reference for the account owner (SWIFT writes NONREF when there is none): the :61: is cut", location);
  const slashes = rest.indexOf("//");
  if (slashes < 0) {
    return {
      customer: referenceOf(rest.slice(0, CUSTOMER_REFERENCE_LENGTH), location, "reference for the account owner"),
      bank: null,
      supplementary: rest.slice(CUSTOMER_REFERENCE_LENGTH),
    };
  }
  const customer = referenceOf(rest.slice(0, slashes), location, "reference for the account owner");
  const after = rest.slice(slashes + 2).trimEnd();
  if (after.length <= BANK_REFERENCE_LENGTH || !/\s/.test(after)) return { customer, bank: referenceOf(after, location, "bank reference"), supplementary: "" };
  return { customer, bank: referenceOf(after.slice(0, BANK_REFERENCE_LENGTH), location, "bank reference"), supplementary: after.slice(BANK_REFERENCE_LENGTH) };
}
