// Pass 1 of an import (design9.md, "The import" step 4): the file parsed
// once, streaming, to validate everything before anything is written. Per
// section it keeps what the decision needs and nothing per line beyond its
// id: the tally the statement checks read, per-currency totals for the
// answer, the set of line ids (for re-import and overlap detection), and,
// for a small file only, the lines themselves so pass 2 need not parse again.
import { createReadStream } from "node:fs";
import { TrueupError, statementLineDataSchema } from "@trueup/contracts";
import type { ParsedControlTotal, ParsedLine, ParsedStatement, StatementItem, StatementLineData } from "@trueup/contracts";
import type { Importer, ImportOptions } from "../importers/types.ts";
import { statementError } from "../importers/shared.ts";
import { emptyTally, tallyLine } from "../checks.ts";
import type { LineTally } from "../checks.ts";
import { decodeChunks } from "./decode.ts";
import type { EncodingChoice } from "./decode.ts";
import { LineIdCounter } from "./line-id.ts";

/** Bytes read from the spooled file at a time. */
export const READ_CHUNK_BYTES = 65_536;

export interface CurrencyTotals {
  credits: number;
  creditsMinor: bigint;
  debits: number;
  debitsMinor: bigint;
}

export interface SectionScan {
  readonly section: number;
  readonly statement: ParsedStatement;
  readonly tally: LineTally;
  /** Ids of the section's lines (new and known). */
  readonly ids: ReadonlySet<string>;
  readonly totals: ReadonlyMap<string, CurrencyTotals>;
  /** The lines as they will be recorded, when the file was small enough to keep them (else pass 2 parses again). */
  readonly lines: readonly StatementLineData[] | undefined;
}

export interface FileScan {
  readonly sections: readonly SectionScan[];
  readonly fileControlTotals: readonly ParsedControlTotal[];
}

/** The file's text, decoded as chosen, read again from the spooled file for every pass. */
export function fileText(path: string, encoding: EncodingChoice): AsyncIterable<string> {
  return decodeChunks(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }), encoding);
}

/**
 * A line as recorded (StatementLineData), checked to fit what every store can
 * hold: a field too long for it is the file's fault, at the line.
 */
export function lineData(line: ParsedLine, lineId: string, lineNumber: number): StatementLineData {
  const candidate = {
    lineId,
    lineNumber,
    amountMinor: line.amountMinor.toString(),
    side: line.side,
    currency: line.currency,
    bookingDate: line.bookingDate,
    valueDate: line.valueDate,
    reversal: line.reversal,
    bankReference: line.bankReference,
    endToEndId: line.endToEndId,
    customerReference: line.customerReference,
    creditorReference: line.creditorReference,
    remittanceInformation: line.remittanceInformation,
    description: line.description,
    counterparty: { ...line.counterparty },
    bankCodes: { ...line.bankCodes },
    chargesMinor: line.chargesMinor === null ? null : line.chargesMinor.toString(),
    batch: line.batch === null ? null : { ...line.batch, amountMinor: line.batch.amountMinor.toString() },
    attributes: { ...line.attributes },
    raw: line.raw,
    location: { ...line.location },
  };
  const parsed = statementLineDataSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue === undefined ? "a field" : issue.path.map(String).join(".");
    throw statementError("STATEMENT_MALFORMED", `the line's ${field} cannot be recorded: ${issue?.message ?? "invalid"}`, line.location, { field });
  }
  return parsed.data;
}

function addTotals(totals: Map<string, CurrencyTotals>, line: ParsedLine): void {
  let entry = totals.get(line.currency);
  if (entry === undefined) {
    entry = { credits: 0, creditsMinor: 0n, debits: 0, debitsMinor: 0n };
    totals.set(line.currency, entry);
  }
  if (line.side === "credit") {
    entry.credits++;
    entry.creditsMinor += line.amountMinor;
  } else {
    entry.debits++;
    entry.debitsMinor += line.amountMinor;
  }
}

/** Pass 1: parses `text` with `importer`, validating every line and keeping each section's summary. */
export async function scanFile(importer: Importer, text: AsyncIterable<string>, options: ImportOptions & { readonly keepLines: boolean }): Promise<FileScan> {
  const sections: SectionScan[] = [];
  let fileControlTotals: readonly ParsedControlTotal[] = [];
  let open: { section: number; tally: LineTally; ids: Set<string>; totals: Map<string, CurrencyTotals>; lines: StatementLineData[] | undefined; counter: LineIdCounter } | undefined;
  const start = (section: number): NonNullable<typeof open> => ({
    section,
    tally: emptyTally(),
    ids: new Set(),
    totals: new Map(),
    lines: options.keepLines ? [] : undefined,
    counter: new LineIdCounter(),
  });
  for await (const item of importer.parse(text, options) as AsyncIterable<StatementItem>) {
    if (item.kind === "line") {
      open ??= start(item.section);
      assertSection(open.section, item.section, item.line.location.line);
      const id = open.counter.next(item.line);
      const data = lineData(item.line, id, open.ids.size + 1);
      open.ids.add(id);
      tallyLine(open.tally, item.line);
      addTotals(open.totals, item.line);
      open.lines?.push(data);
    } else if (item.kind === "statement") {
      const scan = open ?? start(item.statement.section);
      assertSection(scan.section, item.statement.section, item.statement.location.line);
      sections.push({ section: scan.section, statement: item.statement, tally: scan.tally, ids: scan.ids, totals: scan.totals, lines: scan.lines });
      open = undefined;
    } else {
      fileControlTotals = item.controlTotals;
    }
  }
  if (open !== undefined) throw new Error(`importer ${importer.name} yielded lines of section ${open.section} without its statement`);
  if (sections.length === 0) throw new TrueupError("STATEMENT_EMPTY", "the file holds no statement", { detail: { location: { line: 1 } } });
  return { sections, fileControlTotals };
}

/** An importer yielding a section's lines out of order is a bug in it, not in the file. */
function assertSection(open: number, item: number, line: number): void {
  if (open !== item) throw new Error(`importer yielded an item of section ${item} inside section ${open} (line ${line})`);
}
