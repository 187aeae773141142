// Free text from clients (names, descriptions, references, reasons, metadata
// keys and values): one schema for all of it, sized to what every store can
// hold. PostgreSQL text and jsonb cannot hold U+0000 at all (the append or
// the projection fails: a 500, or a stopped read model), and a lone UTF-16
// surrogate has no UTF-8 form (jsonb refuses "\ud800"; a text column would
// get U+FFFD, so the stored text would differ from the hashed event). Both
// are refused at the edge, with the field's path.
import { z } from "zod";

/**
 * Lengths are counted in characters (Unicode code points), never in UTF-16
 * units or bytes. UTF-8 takes at most 4 bytes per code point, so a limit of
 * N characters is at most 4N bytes: every limit below stays far under a
 * B-tree index entry (2,704 bytes on an 8 kB page), so any text field may be
 * indexed later without a new limit.
 */
export const TEXT_LIMITS = {
  /** Ledger and account names. 800 bytes at most. */
  nameLengthMax: 200,
  /** A journal entry's description. 2,000 bytes at most. */
  descriptionLengthMax: 500,
  /** A journal entry's external reference (invoice number, bank reference). 800 bytes at most. */
  referenceLengthMax: 200,
  /** Why a period was reopened. 2,000 bytes at most. */
  reasonLengthMax: 500,
  metadataKeyLengthMax: 100,
  metadataValueLengthMax: 500,
  /** With the two lengths above: at most 32 × 600 × 4 = 76,800 bytes of metadata, well inside the request body limit. */
  metadataKeysMax: 32,
} as const;

/** Why a text cannot be stored, or undefined when it can. */
export function unstorableText(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit === 0) return `contains U+0000 (NUL) at index ${i}; PostgreSQL text cannot hold it`;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (unit >= 0xd800 && unit <= 0xdfff) {
      return `contains a lone UTF-16 surrogate U+${unit.toString(16).toUpperCase()} at index ${i}; it is not a character and has no UTF-8 form`;
    }
  }
  return undefined;
}

/** Length in Unicode code points (a pair of surrogates counts once). */
export function characterCount(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

/**
 * Client text of 1..lengthMax characters, trimmed first (so "  " is empty),
 * holding no NUL and no lone surrogate. `allowEmpty` for metadata values,
 * where "" is a value.
 */
export function textSchema(options: { lengthMax: number; allowEmpty?: boolean; trim?: boolean }) {
  const { lengthMax, allowEmpty = false, trim = true } = options;
  return z.string().transform((raw, ctx) => {
    const value = trim ? raw.trim() : raw;
    const problem = unstorableText(value);
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", message: problem });
      return z.NEVER;
    }
    if (!allowEmpty && value.length === 0) {
      ctx.addIssue({ code: "custom", message: trim ? "must not be empty or only spaces" : "must not be empty" });
      return z.NEVER;
    }
    const count = characterCount(value);
    if (count > lengthMax) {
      ctx.addIssue({ code: "custom", message: `must be at most ${lengthMax} characters, got ${count}` });
      return z.NEVER;
    }
    return value;
  });
}

const metadataKey = textSchema({ lengthMax: TEXT_LIMITS.metadataKeyLengthMax, trim: false });
const metadataValue = textSchema({ lengthMax: TEXT_LIMITS.metadataValueLengthMax, allowEmpty: true, trim: false });

/**
 * String-to-string metadata. Checked by hand rather than with z.record, so a
 * bad key is reported at its own path (`/metadata/<key>`) with what is wrong
 * with it, not as zod's nested "invalid key".
 */
export const metadataSchema = z.record(z.string(), z.unknown()).transform((record, ctx) => {
  const keys = Object.keys(record);
  if (keys.length > TEXT_LIMITS.metadataKeysMax) {
    ctx.addIssue({ code: "custom", message: `at most ${TEXT_LIMITS.metadataKeysMax} metadata keys, got ${keys.length}` });
    return z.NEVER;
  }
  const out: Record<string, string> = {};
  for (const key of keys) {
    const keyResult = metadataKey.safeParse(key);
    if (!keyResult.success) {
      ctx.addIssue({ code: "custom", message: `metadata key: ${keyResult.error.issues[0]?.message ?? "is invalid"}`, path: [key] });
      continue;
    }
    const value = record[key];
    if (typeof value !== "string") {
      ctx.addIssue({ code: "custom", message: `metadata values are strings, got a JSON ${value === null ? "null" : typeof value}`, path: [key] });
      continue;
    }
    const valueResult = metadataValue.safeParse(value);
    if (!valueResult.success) {
      ctx.addIssue({ code: "custom", message: valueResult.error.issues[0]?.message ?? "is invalid", path: [key] });
      continue;
    }
    out[key] = valueResult.data;
  }
  return out;
});
