// What a BAI2 type code says about a detail (16) record's money: its
// direction and whether the bank books it as a reversal. The ranges and the
// named codes are Appendix A ("Uniform BAI2 type codes") of the Cash
// Management Balance Reporting Specifications, Version 2 (BAI / ASC X9):
//
//   001-099  account status (balances)        no direction
//   100-399  credit summary and detail        credit
//   400-699  debit summary and detail         debit
//   700-799  loans: 701-709 status, 720-728 credits (amounts applied to a
//            loan), 760 a debit (loan disbursement); the rest unassigned
//   890      "contains non-monetary information"
//   900-919  customized account status        no direction
//   920-959  customized credits               credit
//   960-999  customized debits                debit
//
// A detail record with a code that has no direction (a status code, an
// unassigned 7xx/8xx) is not a money movement the bank could have booked:
// the importer refuses it rather than guess a side.
import type { Side } from "@trueup/contracts";

export type DetailKind = { readonly kind: "movement"; readonly side: Side; readonly reversal: boolean } | { readonly kind: "non-monetary" } | { readonly kind: "none" };

/**
 * The codes Appendix A names as reversals. Each keeps the side of its own
 * booking: a debit reversal puts money back (credit), a credit reversal
 * takes it out (debit). Returns, corrections and adjustments (123, 254,
 * 555, 557…) are separate bookings in their own right, not reversals.
 */
const REVERSALS: ReadonlySet<string> = new Set([
  "252", // Debit Reversal (credit)
  "258", // ACH Reversal Credit
  "395", // Check Reversal (credit)
  "552", // Credit Reversal (debit)
  "558", // ACH Reversal Debit
  "694", // Deposit Reversal (debit)
]);

/** The direction of a detail record's type code (three digits, already checked). */
export function detailKind(typeCode: string): DetailKind {
  const code = Number(typeCode);
  const reversal = REVERSALS.has(typeCode);
  if ((code >= 100 && code <= 399) || (code >= 720 && code <= 728) || (code >= 920 && code <= 959)) return { kind: "movement", side: "credit", reversal };
  if ((code >= 400 && code <= 699) || code === 760 || (code >= 960 && code <= 999)) return { kind: "movement", side: "debit", reversal };
  if (code === 890) return { kind: "non-monetary" };
  return { kind: "none" };
}

/** Status codes of the 03 record that Trueup reads as the statement's balances. */
export const BALANCE_TYPE_CODES = {
  /** Opening ledger: the booked balance at the start of the as-of date. */
  openingLedger: "010",
  /** Closing ledger: the booked balance at its end. */
  closingLedger: "015",
  /** Closing available: what the holder could draw at the end of the day. */
  closingAvailable: "045",
} as const;
