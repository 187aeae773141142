// A statement line's identity in its bank account (design9.md, "Line
// identity"): the bank's own reference when it gives one, else a hash of
// what the line says; then its occurrence among the lines of the statement
// with that same base, so two identical lines (two equal card payments on one
// day, no reference) stay two lines, and re-importing the same file or an
// overlapping statement gives every line the id it had.
import { createHash } from "node:crypto";
import type { ParsedLine } from "@trueup/contracts";
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";

/** Hex digits of the SHA-256 kept in a hash id: 128 bits, no collision among any account's lines. */
const HASH_HEX_LENGTH = 32;
/** Room left in a line id for `#<occurrence>`. */
const OCCURRENCE_SUFFIX_MAX = 12;

/**
 * A copy of `text` that holds no reference to a larger string. An importer's
 * field is usually a slice of the chunk it was read from, and V8 keeps the
 * whole chunk alive for as long as the slice lives: the ids of a 200,000-line
 * camt file, kept for the import's decision, held the file's whole text.
 */
function detached(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, HASH_HEX_LENGTH);
}

/** The id of a line before its occurrence number. */
export function baseLineId(line: ParsedLine): string {
  if (line.bankReference !== null) {
    const id = `ref:${line.bankReference}`;
    // A reference too long for a line id is still the identity: its hash, marked apart from content hashes.
    return id.length <= STATEMENT_LINE_LIMITS.lineIdLengthMax - OCCURRENCE_SUFFIX_MAX ? detached(id) : `refhash:${sha256Hex(line.bankReference)}`;
  }
  // An array of strings, booleans and nulls: JSON.stringify of it is canonical (no keys to order).
  const facts = [
    line.amountMinor.toString(),
    line.side,
    line.currency,
    line.bookingDate,
    line.valueDate,
    line.reversal,
    line.endToEndId,
    line.customerReference,
    line.creditorReference,
    line.remittanceInformation,
    line.description,
    line.counterparty.iban,
    line.counterparty.accountNumber,
    line.counterparty.name,
  ];
  return `hash:${sha256Hex(JSON.stringify(facts))}`;
}

/** Numbers the occurrences of base ids within one statement. One map entry per distinct base id. */
export class LineIdCounter {
  private readonly seen = new Map<string, number>();

  next(line: ParsedLine): string {
    const base = baseLineId(line);
    const occurrence = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, occurrence);
    return `${base}#${occurrence}`;
  }
}
