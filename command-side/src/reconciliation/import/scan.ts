// Pass 1 of an import (design9.md, "The import" step 4): the file parsed
// once, streaming, to validate everything before anything is written. Per
// section it keeps what the decision needs and nothing per line beyond its
// id: the tally the statement checks read, per-currency totals for the
// answer, the line ids in order (for re-import and overlap detection, and
// for pass 2 to skip the known ones). The lines themselves, as they will be
// recorded, go to a line spool (line-spool.ts) that pass 2 reads instead of
// parsing the file again.
import { createReadStream } from "node:fs";
import { STATEMENT_LINE_LIMITS, TrueupError, isCalendarDate, statementLineDataSchema } from "@trueup/contracts";
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

const DIGITS = /^(0|[1-9]\d{0,29})$/;
const CURRENCY = /^[A-Z]{3}$/;
const { fieldLengthMax, textLengthMax, rawLengthMax, attributesMax, attributeKeyLengthMax, lineIdLengthMax } = STATEMENT_LINE_LIMITS;

const field = (value: string | null): boolean => value === null || value.length <= fieldLengthMax;
const text = (value: string | null): boolean => value === null || value.length <= textLengthMax;
const date = (value: string | null): boolean => value === null || isCalendarDate(value);

/**
 * The first field of a line that statementLineDataSchema (contracts) would
 * refuse, or undefined. The same bounds as the schema, checked by hand: the
 * schema costs ~17 µs a line, which alone would cap an import below the
 * ingest target; this costs ~1 µs. A property test holds the two together
 * (import-scan.test.ts), and the schema still explains a refusal.
 */
export function lineDataProblem(d: StatementLineData): string | undefined {
  if (d.lineId.length === 0 || d.lineId.length > lineIdLengthMax) return "lineId";
  if (!DIGITS.test(d.amountMinor)) return "amountMinor";
  if (!CURRENCY.test(d.currency)) return "currency";
  if (!date(d.bookingDate)) return "bookingDate";
  if (!date(d.valueDate)) return "valueDate";
  for (const name of ["bankReference", "endToEndId", "customerReference", "creditorReference"] as const) if (!field(d[name])) return name;
  if (!text(d.remittanceInformation)) return "remittanceInformation";
  if (!text(d.description)) return "description";
  for (const [name, value] of Object.entries(d.counterparty)) if (!field(value)) return `counterparty.${name}`;
  for (const [name, value] of Object.entries(d.bankCodes)) if (!field(value)) return `bankCodes.${name}`;
  if (d.chargesMinor !== null && !DIGITS.test(d.chargesMinor)) return "chargesMinor";
  if (d.batch !== null) {
    const { id, index, size, amountMinor } = d.batch;
    if (id.length > fieldLengthMax || !Number.isInteger(index) || index < 0 || !Number.isInteger(size) || size < 1 || !DIGITS.test(amountMinor)) return "batch";
  }
  const attributes = Object.entries(d.attributes);
  if (attributes.length > attributesMax) return "attributes";
  for (const [name, value] of attributes) if (name.length > attributeKeyLengthMax || value.length > fieldLengthMax) return `attributes.${name}`;
  if (d.raw.length > rawLengthMax) return "raw";
  const { line, column, element, record } = d.location;
  if (!Number.isInteger(line) || line < 1 || (column?.length ?? 0) > 200 || (element?.length ?? 0) > 1000 || (record?.length ?? 0) > 20) return "location";
  return undefined;
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
  const problem = lineDataProblem(data);
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
      await spool.write(JSON.stringify(data));
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
