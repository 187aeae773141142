// The importer port: decoded text in (as a stream of chunks), typed
// statement items out, or a located error. Importers are pure: no storage,
// no clock, no network; the import command (../import/) feeds them and
// decides what to write.
import type { CsvProfile, StatementFormat, StatementItem } from "@trueup/contracts";

/**
 * Bounds every importer enforces, each failing with its own code. The HTTP
 * edge bounds the file's bytes before any importer runs.
 */
export interface ImportLimits {
  /** Statement lines in one file (all sections): STATEMENT_TOO_MANY_LINES beyond it. */
  readonly linesMax: number;
  /**
   * Characters in one physical line of a line-based format (MT940, BAI2, CSV,
   * OFX 1.x), and in one XML element's text or one line's raw fragment in
   * camt and OFX 2.x (minified XML has no line breaks): STATEMENT_LINE_TOO_LONG.
   */
  readonly lineLengthMax: number;
}

export const IMPORT_LIMITS_DEFAULT: ImportLimits = { linesMax: 1_000_000, lineLengthMax: 16_384 };

export interface ImportOptions {
  readonly limits: ImportLimits;
  /** The mapping of a CSV file (a saved profile or the built-in `stripe`); required by the CSV importer. */
  readonly csvProfile?: CsvProfile | undefined;
  /** The format the caller named (?format=) or detection chose; an importer reading several formats follows it. */
  readonly format: StatementFormat;
}

export interface Importer {
  /** e.g. "camt", "mt940". */
  readonly name: string;
  readonly formats: readonly StatementFormat[];
  /**
   * The format of a file whose decoded text starts with `head` (its first
   * few KiB, at most DETECT_HEAD_CHARS), or undefined when it is not this
   * importer's. Cheap and certain: a wrong guess would be a wrong import.
   */
  detect(head: string): StatementFormat | undefined;
  /**
   * Reads the whole text and yields its items in order (see StatementItem).
   * Throws TrueupError (STATEMENT_MALFORMED, STATEMENT_AMOUNT_INVALID, …)
   * with `detail.location` (a SourceLocation) on the first fault. Must not
   * buffer more than one section's header and one line beyond the chunk it
   * is reading: files can be hundreds of megabytes.
   */
  parse(text: AsyncIterable<string>, options: ImportOptions): AsyncGenerator<StatementItem, void, undefined>;
}

/** How much of the decoded text detection looks at. */
export const DETECT_HEAD_CHARS = 4096;
