// Pass 1 of an import (design9.md, "The import" step 4): the file parsed
// once, streaming, to validate everything before anything is written. Per
// section it keeps what the decision needs and nothing per line beyond its
// id: the tally the statement checks read, per-currency totals for the
// answer, the set of line ids (for re-import and overlap detection), and,
// for a small file only, the lines themselves so pass 2 need not parse again.
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
