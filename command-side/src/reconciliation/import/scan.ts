// Pass 1 of an import (design9.md, "The import" step 4): the file parsed
// once, streaming, to validate everything before anything is written. Per
// section it keeps what the decision needs and nothing per line beyond its
// id: the tally the statement checks read, per-currency totals for the
// answer, the line ids in order (for re-import and overlap detection, and
// for pass 2 to skip the known ones). The lines themselves, as they will be
// stored (contracts' storedLine), go to a line spool (line-spool.ts) that
// pass 2 reads instead of parsing the file again.
import { createReadStream } from "node:fs";
import { STATEMENT_LINE_LIMITS, TrueupError, statementLineDataSchema, statementLineProblem, storedLine } from "@trueup/contracts";
import type { ParsedControlTotal, ParsedLine, ParsedStatement, StatementItem, StatementLineData } from "@trueup/contracts";
import type { Importer, ImportOptions } from "../importers/types.ts";
import { statementError } from "../importers/shared.ts";
import { emptyTally, tallyLine } from "../checks.ts";
import type { LineTally } from "../checks.ts";
import { decodeChunks } from "./decode.ts";
import type { EncodingChoice } from "./decode.ts";
import { LineIdCounter } from "./line-id.ts";
import { LineSpoolWriter } from "./line-spool.ts";
import type { LineSpool } from "./line-spool.ts";

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
  /** The same ids in file order: the section's rows in the line spool, one for one. */
  readonly lineIds: readonly string[];
  readonly totals: ReadonlyMap<string, CurrencyTotals>;
}

export interface FileScan {
  readonly sections: readonly SectionScan[];
  readonly fileControlTotals: readonly ParsedControlTotal[];
  /** Every section's lines as recorded, sections in order; the caller removes it. */
  readonly lines: LineSpool;
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
  const { counterparty: cp, bankCodes: bc, location: at } = line;
  // Built key by key: an importer's extra property must not reach the log (the schema is strict).
  const data: StatementLineData = {
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
    counterparty: { name: cp.name, iban: cp.iban, accountNumber: cp.accountNumber, bic: cp.bic },
    bankCodes: { domain: bc.domain, family: bc.family, subFamily: bc.subFamily, proprietary: bc.proprietary, proprietaryIssuer: bc.proprietaryIssuer, swift: bc.swift, bai2: bc.bai2, ofx: bc.ofx, psp: bc.psp },
    chargesMinor: line.chargesMinor === null ? null : line.chargesMinor.toString(),
    batch: line.batch === null ? null : { id: line.batch.id, index: line.batch.index, size: line.batch.size, amountMinor: line.batch.amountMinor.toString(), side: line.batch.side },
    attributes: { ...line.attributes },
    raw: line.raw,
    location: { line: at.line, ...(at.column === undefined ? {} : { column: at.column }), ...(at.element === undefined ? {} : { element: at.element }), ...(at.record === undefined ? {} : { record: at.record }) },
  };
  const problem = statementLineProblem(data);
  if (problem === undefined) return data;
  const issue = statementLineDataSchema.safeParse(data).error?.issues[0];
  const why = issue?.message ?? `longer than allowed (${STATEMENT_LINE_LIMITS.fieldLengthMax} characters for references and names, ${STATEMENT_LINE_LIMITS.textLengthMax} for texts, ${STATEMENT_LINE_LIMITS.attributesMax} attributes)`;
  throw statementError("STATEMENT_MALFORMED", `the line's ${problem} cannot be recorded: ${why}`, line.location, { field: problem });
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

/** Pass 1: parses `text` with `importer`, validating every line, keeping each section's summary and spooling its lines to `spoolPath`. */
export async function scanFile(importer: Importer, text: AsyncIterable<string>, options: ImportOptions & { readonly spoolPath: string }): Promise<FileScan> {
  const spool = await LineSpoolWriter.create(options.spoolPath);
  try {
    const scanned = await scanInto(importer, text, options, spool);
    return { ...scanned, lines: await spool.finish() };
  } catch (error) {
    await spool.discard();
    throw error;
  }
}

async function scanInto(importer: Importer, text: AsyncIterable<string>, options: ImportOptions, spool: LineSpoolWriter): Promise<Omit<FileScan, "lines">> {
  const sections: SectionScan[] = [];
  let fileControlTotals: readonly ParsedControlTotal[] = [];
  let open: { section: number; tally: LineTally; ids: Set<string>; lineIds: string[]; totals: Map<string, CurrencyTotals>; counter: LineIdCounter } | undefined;
  const start = (section: number): NonNullable<typeof open> => ({ section, tally: emptyTally(), ids: new Set(), lineIds: [], totals: new Map(), counter: new LineIdCounter() });
  for await (const item of importer.parse(text, options) as AsyncIterable<StatementItem>) {
    if (item.kind === "line") {
      open ??= start(item.section);
      assertSection(open.section, item.section, item.line.location.line);
      const id = open.counter.next(item.line);
      const data = lineData(item.line, id, open.lineIds.length + 1);
      open.ids.add(id);
      open.lineIds.push(id);
      tallyLine(open.tally, item.line);
      addTotals(open.totals, item.line);
      await spool.write(JSON.stringify(storedLine(data)));
    } else if (item.kind === "statement") {
      const scan = open ?? start(item.statement.section);
      assertSection(scan.section, item.statement.section, item.statement.location.line);
      sections.push({ section: scan.section, statement: item.statement, tally: scan.tally, ids: scan.ids, lineIds: scan.lineIds, totals: scan.totals });
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
