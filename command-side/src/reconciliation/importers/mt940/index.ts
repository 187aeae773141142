// SWIFT MT940 (customer statement) and MT942 (interim transaction report).
//
// Our own parser rather than an npm one: the JS MT940 packages are small
// single-maintainer projects, none promising streaming input, bigint
// amounts, RC as a debit booking, the entry date's year rollover or MT942
// sums; the format is small enough to parse exactly ourselves.
//
// Per message, in file order: each :61: (with its :86:) becomes a line, the
// moment its :86: (or the next field) arrives; the statement follows at the
// message's end. Only one line and the message's header facts are held.
import assert from "node:assert/strict";
import { NO_BANK_CODES, STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { ParsedBalance, ParsedControlTotal, ParsedLine, ParsedStatement, SourceLocation, StatementFormat, StatementItem } from "@trueup/contracts";
import type { Importer, ImportOptions } from "../types.ts";
import { LineSplitter, statementError, tooManyLines } from "../shared.ts";
import type { MtField, MtToken } from "./fields.ts";
import { BANK_HEADER_LINE, FieldReader, fieldText } from "./fields.ts";
import type { MtEntry } from "./entry.ts";
import { parseEntry } from "./entry.ts";
import { parseDetails } from "./details.ts";
import { locationOf, parseAccount, parseBalance, parseCreatedAt, parseEntrySum, parseFloorLimit, parseStatementNumber, referenceOf, singleLine } from "./tags.ts";

type MtFormat = Extract<StatementFormat, "mt940" | "mt942">;

interface EntrySum {
  readonly count: number;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly location: SourceLocation;
}

interface Totals {
  count: number;
  sumMinor: bigint;
}

/** What one message has told so far; a line is held only until its :86: (or the next field) arrives. */
interface Message {
  readonly section: number;
  readonly start: SourceLocation;
  readonly envelopeType: string | null;
  reference: string | null;
  referenceSeen: boolean;
  account: ReturnType<typeof parseAccount> | null;
  sequenceNumber: string | null;
  pageNumber: string | null;
  createdAt: string | null;
  opening: { balance: ParsedBalance; kind: "final" | "intermediate" } | null;
  closing: { balance: ParsedBalance; kind: "final" | "intermediate" } | null;
  available: ParsedBalance | null;
  floorCurrency: string | null;
  sums: { debit: EntrySum | null; credit: EntrySum | null };
  pending: { entry: MtEntry; field: MtField } | null;
  lastTag: string | null;
  lineCount: number;
  debits: Totals;
  credits: Totals;
  earliest: string | null;
  latest: string | null;
  mt942Marks: boolean;
}

function newMessage(section: number, start: SourceLocation, envelopeType: string | null): Message {
  return {
    section,
    start,
    envelopeType,
    reference: null,
    referenceSeen: false,
    account: null,
    sequenceNumber: null,
    pageNumber: null,
    createdAt: null,
    opening: null,
    closing: null,
    available: null,
    floorCurrency: null,
    sums: { debit: null, credit: null },
    pending: null,
    lastTag: null,
    lineCount: 0,
    debits: { count: 0, sumMinor: 0n },
    credits: { count: 0, sumMinor: 0n },
    earliest: null,
    latest: null,
    mt942Marks: false,
  };
}

/**
 * The message's format: its envelope's {2:} type when there is one, else
 * MT942 when it has the MT942 fields (:13D: :34F: :90D: :90C:) and no
 * opening balance, else MT940 when it has one, else what the caller chose.
 */
function formatOf(message: Message, chosen: StatementFormat): MtFormat {
  if (message.envelopeType === "942") return "mt942";
  if (message.envelopeType === "940" || message.envelopeType === "950") return "mt940";
  if (message.opening !== null) return "mt940";
  if (message.mt942Marks) return "mt942";
  return chosen === "mt942" ? "mt942" : "mt940";
}

/**
 * Items read in one synchronous run before they are yielded: enough that a
 * promise per line is not paid per line's read, few enough that the run's
 * items are still young when the garbage collector runs (a whole chunk's
 * 1,400 lines at once made collections dearer than the promises saved).
 */
const ITEMS_PER_RUN_MAX = 64;

async function* parseMt(text: AsyncIterable<string>, options: ImportOptions): AsyncGenerator<StatementItem, void, undefined> {
  const reader = new MtReader(options);
  const fields = new FieldReader((token) => {
    reader.token(token);
  });
  const splitter = new LineSplitter(options.limits);
  /** Reads lines until a run's items are ready; false when the chunk is used up. */
  const run = (): boolean => {
    while (reader.readyCount < ITEMS_PER_RUN_MAX) {
      const line = splitter.next();
      if (line === undefined) return false;
      fields.line(line, splitter.number);
    }
    return true;
  };
  for await (const chunk of text) {
    splitter.feed(chunk);
    for (let more = true; more; ) {
      let failed: { error: unknown } | undefined;
      try {
        more = run();
      } catch (error) {
        failed = { error };
      }
      // The items before a fault come out before it, as when every token was yielded on its own.
      yield* reader.take();
      if (failed !== undefined) throw failed.error;
    }
  }
  let failed: { error: unknown } | undefined;
  try {
    const last = splitter.end();
    if (last !== undefined) fields.line(last.text, last.number);
    fields.end();
  } catch (error) {
    failed = { error };
  }
  yield* reader.take();
  if (failed !== undefined) throw failed.error;
  yield* reader.finish();
}

/**
 * The messages of one file, token by token (FieldReader's), in one
 * synchronous pass per chunk: a chunk's items wait in `ready` until taken
 * (an async generator per token cost a promise each).
 */
class MtReader {
  private ready: StatementItem[] = [];
  private message: Message | null = null;
  private envelopeType: string | null = null;
  private sections = 0;
  private linesTotal = 0;

  constructor(private readonly options: ImportOptions) {}

  token(token: MtToken): void {
    if (token.kind === "envelope") {
      if (token.messageType !== null) this.envelopeType = token.messageType;
      return;
    }
    if (token.kind === "end") {
      const message = this.message;
      if (message === null) return;
      flushLine(message, this.ready);
      this.ready.push({ kind: "statement", statement: finish(message, token.line, this.options.format) });
      this.message = null;
      this.envelopeType = null;
      this.sections++;
      return;
    }
    const field = token.field;
    const message = (this.message ??= newMessage(this.sections, locationOf(field), this.envelopeType));
    if (field.tag === "61" && ++this.linesTotal > this.options.limits.linesMax) throw tooManyLines(locationOf(field), this.options.limits.linesMax);
    onField(message, field, this.options.format, this.ready);
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /** The items read since the last call. */
  take(): StatementItem[] {
    const items = this.ready;
    this.ready = [];
    return items;
  }

  /** After the whole text: the file's item, or STATEMENT_EMPTY. */
  finish(): StatementItem[] {
    assert.equal(this.message, null, "FieldReader ends every message it starts");
    if (this.sections === 0) throw statementError("STATEMENT_EMPTY", "the file holds no MT940/MT942 message (no :20: … :62F:)", { line: 1 });
    // MT940/MT942 state no totals about the file as a whole.
    return [{ kind: "file", controlTotals: [] }];
  }
}

function onField(message: Message, field: MtField, chosen: StatementFormat, out: StatementItem[]): void {
  const location = locationOf(field);
  if (field.tag !== "86") flushLine(message, out);
  switch (field.tag) {
    case "20":
      if (message.referenceSeen) throw statementError("STATEMENT_MALFORMED", "a second :20: in one message", location);
      message.referenceSeen = true;
      message.reference = referenceOf(singleLine(field), location, "statement reference :20:");
      break;
    case "25":
      if (message.account !== null) throw statementError("STATEMENT_MALFORMED", "a second :25: in one message", location);
      message.account = parseAccount(field);
      break;
    case "28":
    case "28C":
      ({ sequenceNumber: message.sequenceNumber, pageNumber: message.pageNumber } = parseStatementNumber(field));
      break;
    case "60F":
    case "60M":
      if (message.opening !== null || message.lineCount > 0) throw statementError("STATEMENT_MALFORMED", "the opening balance comes once, before the lines", location);
      message.opening = { balance: parseBalance(field), kind: field.tag === "60F" ? "final" : "intermediate" };
      break;
    case "61":
      onEntry(message, field, chosen);
      break;
    case "86":
      onDetails(message, field, out);
      break;
    case "62F":
    case "62M":
      if (message.closing !== null) throw statementError("STATEMENT_MALFORMED", "a second closing balance in one message", location);
      message.closing = { balance: parseBalance(field), kind: field.tag === "62F" ? "final" : "intermediate" };
      break;
    case "64":
      message.available = parseBalance(field);
      break;
    case "13":
    case "13D":
      message.mt942Marks = true;
      message.createdAt = parseCreatedAt(field);
      break;
    case "34F":
      // The floor limits themselves say which lines the bank chose to report; the statement has no field for them.
      message.mt942Marks = true;
      message.floorCurrency ??= parseFloorLimit(field);
      break;
    case "90D":
    case "90C": {
      message.mt942Marks = true;
      const sum = { ...parseEntrySum(field), location };
      if (field.tag === "90D") message.sums.debit = sum;
      else message.sums.credit = sum;
      break;
    }
    default:
      // :21: related reference, :65: forward available balance, :NS: and
      // other non-SWIFT tags: nothing a statement or a line keeps.
      break;
  }
  message.lastTag = field.tag;
}

function onEntry(message: Message, field: MtField, chosen: StatementFormat): void {
  const location = locationOf(field);
  if (message.closing !== null) throw statementError("STATEMENT_MALFORMED", "a :61: after the closing balance", location);
  const currency = message.opening?.balance.currency ?? message.floorCurrency;
  if (currency === null) {
    const missing = formatOf(message, chosen) === "mt942" ? "a floor limit :34F:" : "an opening balance :60F:";
    throw statementError("STATEMENT_MALFORMED", `a :61: before ${missing}: the line's currency is unknown`, location);
  }
  message.pending = { entry: parseEntry(field, currency), field };
}

function onDetails(message: Message, field: MtField, out: StatementItem[]): void {
  if (message.pending !== null) {
    flushLine(message, out, field);
    return;
  }
  // A :86: after a line's :86: would be a second one for that line, which SWIFT does not allow.
  if (message.lastTag === "86") throw statementError("STATEMENT_MALFORMED", "two :86: in a row: a :61: has one", locationOf(field));
  // Otherwise it is information about the whole message (after :62F: or :90C:): no statement field holds it.
}

function flushLine(message: Message, out: StatementItem[], details?: MtField): void {
  const pending = message.pending;
  if (pending === null) return;
  message.pending = null;
  const line = lineOf(pending.entry, pending.field, details, message.opening?.balance.currency ?? message.floorCurrency ?? "");
  message.lineCount++;
  const totals = line.side === "debit" ? message.debits : message.credits;
  totals.count++;
  totals.sumMinor += line.amountMinor;
  const date = line.bookingDate ?? line.valueDate;
  if (date !== null && (message.earliest === null || date < message.earliest)) message.earliest = date;
  if (date !== null && (message.latest === null || date > message.latest)) message.latest = date;
  out.push({ kind: "line", section: message.section, line });
}

function lineOf(entry: MtEntry, field: MtField, details: MtField | undefined, currency: string): ParsedLine {
  const location = locationOf(field);
  const raw = details === undefined ? fieldText(field) : `${fieldText(field)}\n${fieldText(details)}`;
  if (raw.length > STATEMENT_LINE_LIMITS.rawLengthMax) {
    throw statementError("STATEMENT_LINE_TOO_LONG", `the :61: and its :86: are longer than the limit of ${STATEMENT_LINE_LIMITS.rawLengthMax} characters`, location, {
      limit: STATEMENT_LINE_LIMITS.rawLengthMax,
    });
  }
  const info = details === undefined ? null : parseDetails(details.lines, locationOf(details));
  const attributes: Record<string, string> = { mark: entry.mark, ...info?.attributes };
  if (entry.fundsCode !== null) attributes.fundsCode = entry.fundsCode;
  if (entry.supplementaryDetails !== null) attributes.supplementaryDetails = entry.supplementaryDetails;
  return {
    amountMinor: entry.amountMinor,
    side: entry.side,
    currency,
    bookingDate: entry.entryDate,
    valueDate: entry.valueDate,
    reversal: entry.reversal,
    bankReference: entry.bankReference,
    endToEndId: info?.endToEndId ?? null,
    customerReference: entry.customerReference,
    creditorReference: info?.creditorReference ?? null,
    remittanceInformation: info?.remittanceInformation ?? null,
    description: info?.description ?? null,
    counterparty: info?.counterparty ?? { name: null, iban: null, accountNumber: null, bic: null },
    bankCodes: { ...NO_BANK_CODES, swift: entry.typeCode, proprietary: info?.proprietaryCode ?? null },
    chargesMinor: null,
    batch: null,
    attributes,
    raw,
    location,
  };
}

function finish(message: Message, endLine: number, chosen: StatementFormat): ParsedStatement {
  const end: SourceLocation = { line: endLine };
  const format = formatOf(message, chosen);
  if (!message.referenceSeen) throw statementError("STATEMENT_MALFORMED", "the message has no transaction reference :20:", message.start);
  if (message.account === null) throw statementError("STATEMENT_MALFORMED", "the message has no account identification :25:", message.start);
  if (format === "mt940" && message.opening === null) throw statementError("STATEMENT_MALFORMED", "the MT940 message has no opening balance :60F:", { ...end, record: ":60F:" });
  if (format === "mt940" && message.closing === null) throw statementError("STATEMENT_MALFORMED", "the MT940 message has no closing balance :62F: (truncated?)", { ...end, record: ":62F:" });
  const currency = message.opening?.balance.currency ?? message.floorCurrency ?? message.closing?.balance.currency;
  if (currency === undefined) throw statementError("STATEMENT_MALFORMED", "the MT942 message has no floor limit :34F:, so no currency", { ...end, record: ":34F:" });
  const periodStart = message.opening?.balance.date ?? message.earliest;
  const periodEnd = message.closing?.balance.date ?? message.latest;
  return {
    format,
    section: message.section,
    account: { ...message.account, currency },
    currency,
    statementReference: message.reference,
    sequenceNumber: message.sequenceNumber,
    pageNumber: message.pageNumber,
    createdAt: message.createdAt,
    periodStart,
    periodEnd,
    openingBalance: message.opening?.balance ?? null,
    closingBalance: message.closing?.balance ?? null,
    availableBalance: message.available,
    balanceKind: message.closing?.kind ?? message.opening?.kind ?? null,
    controlTotals: controlTotalsOf(message),
    lineCount: message.lineCount,
    location: message.start,
  };
}

/**
 * :90D:/:90C: state the number and sum of debit (credit) entries. A wrong
 * number means lines are missing or extra: the file is broken
 * (STATEMENT_RECORD_COUNT_MISMATCH). The sums go to the statement checks.
 */
function controlTotalsOf(message: Message): ParsedControlTotal[] {
  const totals: ParsedControlTotal[] = [];
  for (const [scope, sum, computed] of [
    ["debitEntries", message.sums.debit, message.debits],
    ["creditEntries", message.sums.credit, message.credits],
  ] as const) {
    if (sum === null) continue;
    if (sum.count !== computed.count) {
      throw statementError("STATEMENT_RECORD_COUNT_MISMATCH", `:90${scope === "debitEntries" ? "D" : "C"}: states ${sum.count} entries, the message has ${computed.count}`, sum.location, {
        expected: String(sum.count),
        actual: String(computed.count),
      });
    }
    totals.push({ scope, declaredMinor: sum.amountMinor, computedMinor: computed.sumMinor, location: sum.location });
  }
  return totals;
}

const ENVELOPE_TYPE = /\{2:[IO](\d{3})/;

/** The text after a leading ABNANL2A / 940 / ABNANL2A header, when there is one with a message type line. */
function skipBankHeader(start: string): string {
  const lines = start.split(/\r\n|\r|\n/, 4);
  const header = lines.slice(0, 3);
  if (header.length < 3 || !header.every((line) => BANK_HEADER_LINE.test(line.trim())) || !header.some((line) => /^9[45][02]$/.test(line.trim()))) return start;
  return start.replace(/^(?:[^\r\n]*(?:\r\n|\r|\n)){3}/, "");
}

/**
 * Certain, from the head only: an envelope whose {2:} says 940/942/950, or
 * a first line `:20:` (after ABN AMRO's BIC / 940 / BIC header lines) with
 * a `:25:` line soon after. MT942 when the first
 * message has :13D:/:34F:/:90D:/:90C: and no opening balance.
 */
function detect(head: string): StatementFormat | undefined {
  const start = head.replace(/^\s+/, "");
  if (start.startsWith("{1:") || start.startsWith("{2:")) {
    const type = ENVELOPE_TYPE.exec(start)?.[1];
    if (type === "942") return "mt942";
    return type === "940" || type === "950" ? "mt940" : undefined;
  }
  const body = skipBankHeader(start);
  if (!body.startsWith(":20:") || !/(^|[\r\n]):25[A-Z]?:/.test(body)) return undefined;
  const firstMessage = body.split(/\r?\n-\s*(\r?\n|$)|[\r\n](?=:20:)/)[0] ?? start;
  const hasOpening = /(^|[\r\n]):60[FM]:/.test(firstMessage);
  const hasMt942Fields = /(^|[\r\n]):(13D|34F|90D|90C):/.test(firstMessage);
  return hasMt942Fields && !hasOpening ? "mt942" : "mt940";
}

export const mt940Importer: Importer = {
  name: "mt940",
  formats: ["mt940", "mt942"],
  detect,
  parse: parseMt,
};
