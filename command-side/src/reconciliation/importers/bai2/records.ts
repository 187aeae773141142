// BAI2 logical records from physical lines, and the fields inside them.
//
// A logical record is one physical record (`16,...`) plus every `88`
// continuation that follows it (an 88 may continue any record, including
// another 88). It is complete only when the next non-88 record starts, so
// the reader holds exactly one logical record at a time, bounded by
// RECORD_LENGTH_MAX.
//
// Fields: each physical part (without its `NN,` / `88,` prefix) ends at its
// `/` delimiter; its fields are what lies between commas, a trailing comma
// before the `/` meaning one more, defaulted (empty), field. Parts
// concatenate field lists: a field never spans two physical records (the
// spec's rule; it is also what moov-io/bai2 and the banks' own samples do).
// The text field of a 16 record is the exception: it runs to the end of the
// logical record, may contain commas and slashes, and continues on 88s.
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { SourceLocation } from "@trueup/contracts";
import { readLines, statementError } from "../shared.ts";
import type { ImportLimits } from "../types.ts";

/**
 * Characters in one logical record (a record and its 88s, newlines
 * included). A 16 record is a statement line whose raw source is kept, so it
 * gets the raw bound; a longer record fails with STATEMENT_LINE_TOO_LONG.
 */
export const RECORD_LENGTH_MAX = STATEMENT_LINE_LIMITS.rawLengthMax;

export interface RecordPart {
  /** The part's data: after `NN,`, trailing blanks and one trailing `/` removed. */
  readonly data: string;
  /** 1-based physical line. */
  readonly line: number;
}

export interface LogicalRecord {
  /** `01`, `02`, `03`, `16`, `49`, `98`, `99`. */
  readonly code: string;
  readonly parts: readonly RecordPart[];
  /** The source text, physical lines joined with `\n`. */
  readonly raw: string;
  /** Physical records (the record and its 88s): what BAI2 record counts count. */
  readonly physicalCount: number;
  readonly line: number;
}

const RECORD_PREFIX = /^(\d{2}),/;

function partOf(text: string, line: number): RecordPart {
  let data = text.slice(3).trimEnd();
  if (data.endsWith("/")) data = data.slice(0, -1);
  return { data, line };
}

function recordCode(text: string, line: number): string {
  const match = RECORD_PREFIX.exec(text);
  if (match?.[1] === undefined) {
    throw statementError("STATEMENT_MALFORMED", `${JSON.stringify(text.slice(0, 20))} is not a BAI2 record (two-digit record code and a comma)`, { line });
  }
  return match[1];
}

/**
 * The file's logical records, in order. Blank lines are skipped (they are
 * not records and are not counted); an 88 with nothing to continue is
 * malformed.
 */
export async function* readRecords(text: AsyncIterable<string>, limits: Pick<ImportLimits, "lineLengthMax">): AsyncGenerator<LogicalRecord, void, undefined> {
  let code: string | undefined;
  let parts: RecordPart[] = [];
  let raw = "";
  let first = 0;
  for await (const physical of readLines(text, limits)) {
    if (physical.text.trim() === "") continue;
    const thisCode = recordCode(physical.text, physical.number);
    if (thisCode === "88") {
      if (code === undefined) throw statementError("STATEMENT_MALFORMED", "a continuation record (88) with no record before it", { line: physical.number, record: "88" });
      raw += "\n" + physical.text;
      if (raw.length > RECORD_LENGTH_MAX) throw recordTooLong(first, code);
      parts.push(partOf(physical.text, physical.number));
      continue;
    }
    if (code !== undefined) yield { code, parts, raw, physicalCount: parts.length, line: first };
    code = thisCode;
    parts = [partOf(physical.text, physical.number)];
    raw = physical.text;
    first = physical.number;
    if (raw.length > RECORD_LENGTH_MAX) throw recordTooLong(first, code);
  }
  if (code !== undefined) yield { code, parts, raw, physicalCount: parts.length, line: first };
}

function recordTooLong(line: number, code: string) {
  return statementError("STATEMENT_LINE_TOO_LONG", `the record with its continuations is longer than the limit of ${RECORD_LENGTH_MAX} characters`, { line, record: code }, { limit: RECORD_LENGTH_MAX });
}

export interface Field {
  readonly value: string;
  readonly location: SourceLocation;
}

/** Reads a logical record's fields in order, across its 88 parts. */
export class FieldCursor {
  private part = 0;
  /** Where the next field starts in the current part; past the end once the part is used up. */
  private offset = 0;
  private readonly parts: readonly RecordPart[];
  private readonly record: string;

  constructor(record: LogicalRecord) {
    this.parts = record.parts;
    this.record = record.code;
  }

  /** The next field, or undefined at the end of the record. */
  next(): Field | undefined {
    const part = this.current();
    if (part === undefined) return undefined;
    const comma = part.data.indexOf(",", this.offset);
    const end = comma < 0 ? part.data.length : comma;
    const value = part.data.slice(this.offset, end);
    this.offset = end + 1;
    return { value, location: { line: part.line, record: this.record } };
  }

  /** The next field, which the record must have. */
  required(name: string): Field {
    const field = this.next();
    if (field === undefined) throw statementError("STATEMENT_MALFORMED", `the record ends before its ${name}`, this.endLocation());
    return field;
  }

  /**
   * Everything left in the record as one text (the 16 record's text field):
   * the rest of this part as written, then each later part, joined with a
   * space (a bank breaks text into 88s at word boundaries or fixed widths;
   * cleanText collapses what this adds). Null when nothing is left.
   */
  rest(): Field | undefined {
    const pieces: string[] = [];
    const part = this.current();
    if (part === undefined) return undefined;
    pieces.push(part.data.slice(this.offset));
    for (let i = this.part + 1; i < this.parts.length; i++) pieces.push(this.parts[i]?.data ?? "");
    this.part = this.parts.length;
    return { value: pieces.join(" "), location: { line: part.line, record: this.record } };
  }

  /** Fails when fields other than empty ones are left: a record with more than its layout is not BAI2. */
  end(): void {
    for (let field = this.next(); field !== undefined; field = this.next()) {
      if (field.value.trim() !== "") throw statementError("STATEMENT_MALFORMED", `unexpected field ${JSON.stringify(field.value.slice(0, 40))} after the end of the record`, field.location);
    }
  }

  endLocation(): SourceLocation {
    const last = this.parts[this.parts.length - 1];
    return { line: last?.line ?? 1, record: this.record };
  }

  private current(): RecordPart | undefined {
    for (;;) {
      const part = this.parts[this.part];
      if (part === undefined) return undefined;
      if (this.offset <= part.data.length) return part;
      this.part++;
      this.offset = 0;
    }
  }
}
