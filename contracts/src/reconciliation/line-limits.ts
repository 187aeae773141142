// The bounds of a statement line, apart so that both the line's schema
// (events.ts) and its hand-written check (line-check.ts) read them.
/**
 * Bounds on what one statement line may carry, so every line fits every
 * store (an EventStoreDB event is at most 16 MiB; a batch of
 * STATEMENT_LINES_PER_EVENT_MAX lines at these bounds stays below it).
 */
export const STATEMENT_LINE_LIMITS = {
  /** A line's source text (`:61:`+`:86:`, the Ntry/TxDtls XML, the CSV row). */
  rawLengthMax: 16_384,
  /** Description, remittance information. */
  textLengthMax: 2_000,
  /** References, names, ids, codes. */
  fieldLengthMax: 500,
  attributesMax: 32,
  attributeKeyLengthMax: 64,
  lineIdLengthMax: 200,
} as const;
