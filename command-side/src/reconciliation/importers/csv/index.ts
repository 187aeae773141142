// CSV statements read with a mapping profile (a saved one or the built-in
// `stripe`). The CSV syntax itself (RFC 4180 quotes, doubled quotes,
// delimiters and line breaks inside quoted fields, CRLF/LF/CR) is csv-parse's,
// fed with the text chunks as they come; its record buffer is bounded, so a
// quote that never closes fails at the bound instead of holding the file.
// Line numbers are counted here from each row's raw text: csv-parse counts a
// CRLF as two lines.
//
// One file is one section: no balances (the balance and continuity checks
// are skipped), the account is the bank account's (ParsedAccount all null),
// and the period runs from the earliest to the latest line date.
import { CsvError, Parser } from "csv-parse";
import type { Options } from "csv-parse";
import { TrueupError, STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { CsvProfile, ParsedLine, ParsedStatement, StatementItem } from "@trueup/contracts";
import type { Importer, ImportLimits, ImportOptions } from "../types.ts";
import { statementError, tooManyLines } from "../shared.ts";
import { resolveColumns } from "./columns.ts";
import type { ResolvedColumns } from "./columns.ts";
import { rowToLine } from "./rows.ts";

/**
 * csv-parse bounds a record in bytes, our limit is in characters: a UTF-16
 * unit is at most 3 UTF-8 bytes. The character bound is checked on each row.
 */
const UTF8_BYTES_PER_UNIT_MAX = 3;

export const csvImporter: Importer = {
  name: "csv",
  formats: ["csv"],
  // A profile reads almost any text: CSV is chosen by ?format=csv or ?profile=, never guessed.
  detect: () => undefined,
  parse: parseCsv,
};

async function* parseCsv(text: AsyncIterable<string>, options: ImportOptions): AsyncGenerator<StatementItem, void, undefined> {
  const profile = options.csvProfile;
  if (profile === undefined) throw new TrueupError("CSV_PROFILE_REQUIRED", "a CSV file is read with a mapping profile: pass ?profile=<profileId> (or ?profile=stripe)");
  const reader = new RowReader(profile, options.limits);
  const parser = new RecordParser(
    {
      delimiter: profile.delimiter,
      quote: profile.quote,
      escape: profile.quote,
      record_delimiter: ["\r\n", "\n", "\r"],
      // Field counts are checked by the reader, against the header, with the row's line.
      relax_column_count: true,
      // Empty lines come out as one empty field and are skipped as blank rows: csv-parse's own skipping keeps them in the next row's raw text, unbounded.
      skip_empty_lines: false,
      raw: true,
      bom: true,
      cast: false,
      max_record_size: options.limits.lineLengthMax * UTF8_BYTES_PER_UNIT_MAX,
    },
    (record) => {
      reader.accept(record);
    },
  );
  let failed: Error | undefined;
  parser.on("error", (error) => {
    failed ??= error;
  });
  try {
    for await (const chunk of afterLines(text, { count: profile.skipRows, lineLengthMax: options.limits.lineLengthMax })) {
      await settled((done) => parser.write(chunk, done));
      parser.throwFault(failed);
      yield* reader.take();
    }
    await settled((done) => parser.end(done));
    parser.throwFault(failed);
    yield* reader.take();
  } catch (error) {
    throw located(error, { line: reader.line, lineLengthMax: options.limits.lineLengthMax });
  } finally {
    parser.destroy();
  }
  yield { kind: "statement", statement: reader.statement() };
  yield { kind: "file", controlTotals: [] };
}

/**
 * csv-parse's stream parser whose records go to `onRecord` as it pushes
 * them, in file order, instead of to its readable side (which nobody reads:
 * it would buffer the file). Not `on_record`: csv-parse builds an info
 * object and decodes the raw text a second time for every record it hands
 * there, a fifth of the CSV parse. The first fault of `onRecord` stops the
 * reading of records; csv-parse can only fail later in the file, so that
 * fault comes first.
 */
class RecordParser extends Parser {
  private fault: { error: unknown } | undefined;

  constructor(
    options: Options,
    private readonly onRecord: (record: unknown) => void,
  ) {
    super(options);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return super.push(chunk, encoding);
    if (this.fault !== undefined) return true;
    try {
      this.onRecord(chunk);
    } catch (error) {
      this.fault = { error };
    }
    return true;
  }

  /** Throws the first fault: a record's, else csv-parse's own (`failed`). */
  throwFault(failed: Error | undefined): void {
    if (this.fault !== undefined) throw this.fault.error;
    if (failed !== undefined) throw failed;
  }
}

/** Resolves when csv-parse has taken what was written (or failed: the error is kept by the caller's listener). */
function settled(write: (done: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    write(() => {
      resolve();
    });
  });
}

/**
 * Turns csv-parse's records into statement lines, one at a time as they are
 * found: the header, the field count every row must have, the physical line
 * each row starts on, the section's tallies. Holds the lines of one written
 * chunk until they are taken.
 */
class RowReader {
  /** The physical line the next record starts on. */
  line: number;
  private columns: ResolvedColumns | undefined;
  private fieldCount = 0;
  private headerLine = 0;
  private lineCount = 0;
  private currency: string | undefined;
  private periodStart: string | null = null;
  private periodEnd: string | null = null;
  private ready: ParsedLine[] = [];

  constructor(
    private readonly profile: CsvProfile,
    private readonly limits: ImportLimits,
  ) {
    this.line = profile.skipRows + 1;
    this.currency = profile.currency;
  }

  accept(record: unknown): void {
    if (!isRawRecord(record)) throw new TypeError("csv-parse gave a record without its raw text");
    const first = this.line === this.profile.skipRows + 1;
    const { content, breaks, ended } = rawRow(record.raw, first);
    const row = { fields: record.record, raw: content, line: this.line };
    this.line += breaks + (ended ? 1 : 0);
    const lengthMax = Math.min(this.limits.lineLengthMax, STATEMENT_LINE_LIMITS.rawLengthMax);
    if (content.length > lengthMax) throw statementError("STATEMENT_LINE_TOO_LONG", `the row is ${content.length} characters, longer than the limit of ${lengthMax}`, { line: row.line }, { limit: lengthMax });
    if (isBlank(row.fields)) return; // blank rows (and ;;;; rows of spreadsheet exports) say nothing
    if (this.columns === undefined) {
      this.headerLine = row.line;
      this.fieldCount = row.fields.length;
      const header = this.profile.headerRow ? row.fields.map((name) => name.trim()) : undefined;
      this.columns = resolveColumns(this.profile.columns, { header, fieldCount: this.fieldCount, location: { line: row.line } });
      if (this.profile.headerRow) return;
    }
    if (row.fields.length !== this.fieldCount) {
      const against = `${this.profile.headerRow ? "the header" : "the first row"} (line ${this.headerLine}) has ${this.fieldCount}`;
      throw statementError("STATEMENT_MALFORMED", `the row has ${row.fields.length} fields, ${against}`, { line: row.line });
    }
    if (this.lineCount >= this.limits.linesMax) throw tooManyLines({ line: row.line }, this.limits.linesMax);
    const line = rowToLine(row, { profile: this.profile, columns: this.columns });
    this.lineCount++;
    this.currency ??= line.currency;
    const date = line.bookingDate ?? line.valueDate;
    if (date !== null) {
      if (this.periodStart === null || date < this.periodStart) this.periodStart = date;
      if (this.periodEnd === null || date > this.periodEnd) this.periodEnd = date;
    }
    this.ready.push(line);
  }

  /** The lines read since the last call, as items. */
  *take(): Generator<StatementItem, void, undefined> {
    const lines = this.ready;
    this.ready = [];
    for (const line of lines) yield { kind: "line", section: 0, line };
  }

  statement(): ParsedStatement {
    const location = { line: Math.max(this.headerLine, 1) };
    if (this.lineCount === 0 || this.currency === undefined) {
      throw statementError("STATEMENT_EMPTY", this.columns !== undefined && this.profile.headerRow ? "the file has a header but no rows" : "the file has no rows", location);
    }
    return {
      format: "csv",
      section: 0,
      account: { iban: null, accountNumber: null, bankId: null, currency: this.profile.currency ?? null, location },
      currency: this.currency,
      statementReference: null,
      sequenceNumber: null,
      pageNumber: null,
      createdAt: null,
      periodStart: this.periodStart,
      periodEnd: this.periodEnd,
      openingBalance: null,
      closingBalance: null,
      availableBalance: null,
      balanceKind: null,
      controlTotals: [],
      lineCount: this.lineCount,
      location,
    };
  }
}

// Plain loops, not every(): a closure per row (each one named by tsx) was a tenth of a row's reading.
function isRawRecord(value: unknown): value is { record: string[]; raw: string } {
  if (typeof value !== "object" || value === null || !("record" in value) || !("raw" in value)) return false;
  const fields: unknown = value.record;
  if (!Array.isArray(fields) || typeof value.raw !== "string") return false;
  for (const field of fields) if (typeof field !== "string") return false;
  return true;
}

function isBlank(fields: readonly string[]): boolean {
  for (const field of fields) if (field.trim() !== "") return false;
  return true;
}

/**
 * A record's raw text without its line break, the line breaks inside it
 * (quoted fields), and whether it ended with one. csv-parse keeps only the
 * first character of the record delimiter in raw (the CR of a CRLF).
 */
function rawRow(raw: string, first: boolean): { content: string; breaks: number; ended: boolean } {
  let content = first && raw.startsWith("\uFEFF") ? raw.slice(1) : raw;
  const ended = content.endsWith("\n") || content.endsWith("\r");
  if (ended) content = content.slice(0, -1);
  let breaks = 0;
  for (let i = 0; i < content.length; i++) {
    const c = content.charCodeAt(i);
    if (c === 10 || (c === 13 && content.charCodeAt(i + 1) !== 10)) breaks++;
  }
  return { content, breaks, ended };
}

/** csv-parse's errors as located statement errors; ours pass through. */
function located(error: unknown, at: { line: number; lineLengthMax: number }): unknown {
  if (error instanceof TrueupError || !(error instanceof CsvError)) return error;
  switch (error.code) {
    case "CSV_MAX_RECORD_SIZE":
      return statementError("STATEMENT_LINE_TOO_LONG", `the row is longer than the limit of ${at.lineLengthMax} characters`, { line: at.line }, { limit: at.lineLengthMax });
    case "CSV_QUOTE_NOT_CLOSED":
      return statementError("STATEMENT_MALFORMED", "the row opens a quoted field that is never closed (the file may be truncated)", { line: at.line });
    default:
      // The row's first line: csv-parse counts a CRLF as two lines, so its own line number is not used.
      return statementError("STATEMENT_MALFORMED", csvMessage(error), { line: at.line });
  }
}

/** csv-parse's message without its own (miscounted) line number. */
function csvMessage(error: CsvError): string {
  return error.message.replace(/ at line \d+/, "").replace(/^[A-Za-z ]+:\s*/, (prefix) => prefix.toLowerCase());
}

/**
 * The text after its first `count` physical lines (a profile's skipRows),
 * chunk by chunk. A skipped line longer than `lineLengthMax` fails like any.
 */
async function* afterLines(chunks: AsyncIterable<string>, options: { count: number; lineLengthMax: number }): AsyncGenerator<string, void, undefined> {
  let remaining = options.count;
  let afterCr = false;
  let length = 0;
  for await (const chunk of chunks) {
    let i = 0;
    while (i < chunk.length && (remaining > 0 || afterCr)) {
      const c = chunk.charCodeAt(i);
      if (afterCr) {
        afterCr = false;
        if (c === 10) {
          i++;
          continue;
        }
      }
      if (remaining === 0) break;
      i++;
      if (c === 13 || c === 10) {
        remaining--;
        afterCr = c === 13;
        length = 0;
      } else if (++length > options.lineLengthMax) {
        const line = options.count - remaining + 1;
        throw statementError("STATEMENT_LINE_TOO_LONG", `the line is longer than the limit of ${options.lineLengthMax} characters`, { line }, { limit: options.lineLengthMax });
      }
    }
    if (i < chunk.length) yield i === 0 ? chunk : chunk.slice(i);
  }
}
