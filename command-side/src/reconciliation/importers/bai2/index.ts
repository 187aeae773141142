// BAI2 (Cash Management Balance Reporting Specifications, Version 2):
// 01 file header, 02 group header, 03 account identifier with its summary
// and status amounts, 16 transaction details, 88 continuations, 49 account,
// 98 group and 99 file trailers. Each 03…49 account is one statement section.
//
// Our own parser, not a library's: the npm BAI2 packages are unmaintained,
// read the whole file into memory and turn amounts into JS numbers (floats);
// here amounts stay integer minor units (bigint) and the file streams, one
// logical record at a time.
//
// What the importer decides and what it leaves to the statement checks:
// record counts (49/98/99) and the account count (98) are the file's
// structure, so a wrong one is malformed (STATEMENT_RECORD_COUNT_MISMATCH);
// control totals are sums, reported as ParsedControlTotal (declared vs the
// algebraic sum of the amounts in the 03 and 16 records, as the spec
// defines them) for the checks to compare.
import { NO_BANK_CODES, NO_COUNTERPARTY, STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { ParsedBalance, ParsedControlTotal, ParsedLine, ParsedStatement, SourceLocation, StatementFormat, StatementItem } from "@trueup/contracts";
import { cleanText, statementError, tooManyLines } from "../shared.ts";
import type { Importer, ImportOptions } from "../types.ts";
import {
  count,
  currencyOrNull,
  date,
  fundsType,
  identifierOrNull,
  optionalCount,
  signedAmount,
  signedAmountOrNull,
  timeOrNull,
  typeCode,
  unsignedAmount,
} from "./fields.ts";
import { FieldCursor, readRecords } from "./records.ts";
import type { Field, LogicalRecord } from "./records.ts";
import { BALANCE_TYPE_CODES, detailKind } from "./type-codes.ts";

const BALANCE_CODES: ReadonlySet<string> = new Set(Object.values(BALANCE_TYPE_CODES));

/** The currency of amounts when neither the group nor the account names one (the spec's default). */
const DEFAULT_CURRENCY = "USD";

/**
 * Groups in one file. Each keeps its control total for the file item until
 * the end, so their number is bounded; real files have a handful.
 */
export const BAI2_GROUPS_MAX = 1_000;

/** BAI2 group status 1 is an update; 2 deletion, 3 correction and 4 test-only are kept on each line as `groupStatus`. */
const GROUP_STATUSES: Readonly<Record<string, string>> = { "1": "update", "2": "deletion", "3": "correction", "4": "test" };

interface FileHeader {
  readonly fileId: string | null;
  readonly createdAt: string;
}

interface Group {
  readonly number: number;
  readonly originator: string | null;
  readonly status: string;
  readonly asOfDate: string;
  readonly currency: string;
  readonly location: SourceLocation;
  records: number;
  accounts: number;
  computedMinor: bigint;
}

interface Account {
  readonly section: number;
  readonly accountNumber: string;
  readonly currency: string;
  readonly location: SourceLocation;
  readonly openingBalance: ParsedBalance | null;
  readonly closingBalance: ParsedBalance | null;
  readonly availableBalance: ParsedBalance | null;
  records: number;
  computedMinor: bigint;
  lineCount: number;
}

function fileHeader(record: LogicalRecord): FileHeader {
  const cursor = new FieldCursor(record);
  cursor.required("sender identification");
  cursor.required("receiver identification");
  const created = date(cursor.required("file creation date"), "file creation date");
  const time = timeOrNull(cursor.required("file creation time"), "file creation time");
  const fileId = identifierOrNull(cursor.required("file identification number"), "file identification number");
  optionalCount(cursor.required("physical record length"), "physical record length");
  optionalCount(cursor.required("block size"), "block size");
  const version = cursor.required("version number");
  if (version.value !== "2") throw statementError("STATEMENT_MALFORMED", `version number ${JSON.stringify(version.value.slice(0, 20))} is not 2 (this is not a BAI2 file)`, version.location);
  cursor.end();
  const createdAt = time === null || time === "9999" ? created : `${created}T${time.slice(0, 2)}:${time.slice(2)}`;
  return { fileId, createdAt };
}

function groupHeader(record: LogicalRecord, number: number): Group {
  const cursor = new FieldCursor(record);
  cursor.required("ultimate receiver identification");
  const originator = identifierOrNull(cursor.required("originator identification"), "originator identification");
  const statusField = cursor.required("group status");
  const status = GROUP_STATUSES[statusField.value];
  if (status === undefined) throw statementError("STATEMENT_MALFORMED", `group status ${JSON.stringify(statusField.value.slice(0, 20))} is not 1-4`, statusField.location);
  const asOfDate = date(cursor.required("as-of date"), "as-of date");
  const time = cursor.next();
  if (time !== undefined) timeOrNull(time, "as-of time");
  const currencyField = cursor.next();
  const currency = (currencyField === undefined ? null : currencyOrNull(currencyField)) ?? DEFAULT_CURRENCY;
  const modifier = cursor.next();
  if (modifier !== undefined && !["", "1", "2", "3", "4"].includes(modifier.value)) {
    throw statementError("STATEMENT_MALFORMED", `as-of-date modifier ${JSON.stringify(modifier.value.slice(0, 20))} is not 1-4`, modifier.location);
  }
  cursor.end();
  return { number, originator, status, asOfDate, currency, location: { line: record.line, record: "02" }, records: 0, accounts: 0, computedMinor: 0n };
}

function balance(amountMinor: bigint, currency: string, date: string, location: SourceLocation): ParsedBalance {
  return { amountMinor: amountMinor < 0n ? -amountMinor : amountMinor, side: amountMinor < 0n ? "debit" : "credit", currency, date, location };
}

/** The 03 record: account, currency, then (type code, amount, item count, funds type…) until the record ends. */
function accountHeader(record: LogicalRecord, group: Group, section: number): Account {
  const cursor = new FieldCursor(record);
  const numberField = cursor.required("customer account number");
  const accountNumber = identifierOrNull(numberField, "customer account number");
  if (accountNumber === null) throw statementError("STATEMENT_MALFORMED", "the account identifier has no account number", numberField.location);
  const currencyField = cursor.next();
  const currency = (currencyField === undefined ? null : currencyOrNull(currencyField)) ?? group.currency;
  const balances = new Map<string, ParsedBalance>();
  let computedMinor = 0n;
  for (let codeField = cursor.next(); codeField !== undefined; codeField = cursor.next()) {
    if (codeField.value === "") {
      // A defaulted type code ends the summaries: only empty fields may follow.
      cursor.end();
      break;
    }
    const code = typeCode(codeField);
    const amountField = cursor.required("summary amount");
    const amount = signedAmountOrNull(amountField, "summary amount");
    const itemCount = cursor.next();
    if (itemCount !== undefined) optionalCount(itemCount, "item count");
    fundsType(cursor);
    if (amount === null) continue;
    computedMinor += amount;
    if (BALANCE_CODES.has(code)) balances.set(code, balance(amount, currency, group.asOfDate, amountField.location));
  }
  return {
    section,
    accountNumber,
    currency,
    location: { line: record.line, record: "03" },
    openingBalance: balances.get(BALANCE_TYPE_CODES.openingLedger) ?? null,
    closingBalance: balances.get(BALANCE_TYPE_CODES.closingLedger) ?? null,
    availableBalance: balances.get(BALANCE_TYPE_CODES.closingAvailable) ?? null,
    records: 0,
    computedMinor,
    lineCount: 0,
  };
}

/** Adds a text attribute; values are for auditors and cut to what the store holds (the raw record keeps them whole). */
function attribute(attributes: Record<string, string>, key: string, value: string | null): void {
  if (value !== null && value !== "") attributes[key] = value.slice(0, STATEMENT_LINE_LIMITS.fieldLengthMax);
}

/** A 16 record: the line, or null for a non-monetary (890) detail; its amount goes into the account's sum either way. */
function detail(record: LogicalRecord, account: Account, group: Group): { line: ParsedLine | null; amountMinor: bigint } {
  const cursor = new FieldCursor(record);
  const codeField = cursor.required("type code");
  const code = typeCode(codeField);
  const kind = detailKind(code);
  if (kind.kind === "none") throw statementError("STATEMENT_MALFORMED", `type code ${code} is not a credit or debit type code; a detail record cannot use it`, codeField.location);
  const amountField = cursor.required("amount");
  const amountMinor = kind.kind === "non-monetary" && amountField.value === "" ? 0n : unsignedAmount(amountField, "amount");
  const funds = fundsType(cursor);
  const bankReferenceField = cursor.next();
  const customerReferenceField = cursor.next();
  const text = cursor.rest();
  if (kind.kind === "non-monetary") return { line: null, amountMinor };
  const bankReference = bankReferenceField === undefined ? null : identifierOrNull(bankReferenceField, "bank reference number");
  const customerReference = customerReferenceField === undefined ? null : identifierOrNull(customerReferenceField, "customer reference number");
  // Free text: cut to what the store holds (raw keeps it whole); a text
  // that starts with "/" is the spec's "no text".
  const textValue = text === undefined || text.value.startsWith("/") ? null : cleanText(text.value);
  const attributes: Record<string, string> = {};
  attribute(attributes, "fundsType", funds.code);
  attribute(attributes, "valueTime", funds.valueTime);
  attribute(attributes, "availability", funds.availability);
  if (group.status !== "update") attribute(attributes, "groupStatus", group.status);
  const line: ParsedLine = {
    amountMinor,
    side: kind.side,
    currency: account.currency,
    // Details are reported for the group's as-of date: the day the bank booked them.
    bookingDate: group.asOfDate,
    valueDate: funds.valueDate,
    reversal: kind.reversal,
    bankReference,
    endToEndId: null,
    customerReference,
    creditorReference: null,
    remittanceInformation: null,
    description: textValue?.slice(0, STATEMENT_LINE_LIMITS.textLengthMax) ?? null,
    counterparty: NO_COUNTERPARTY,
    bankCodes: { ...NO_BANK_CODES, bai2: code },
    chargesMinor: null,
    batch: null,
    attributes,
    raw: record.raw,
    location: { line: record.line, record: "16" },
  };
  return { line, amountMinor };
}

/** A trailer's declared record count against the records counted, this trailer included. */
function checkCount(field: Field, what: string, counted: number): void {
  const declared = count(field, what);
  if (declared !== counted) {
    throw statementError("STATEMENT_RECORD_COUNT_MISMATCH", `the trailer declares ${declared} ${what}, the file has ${counted}`, field.location, { declared, counted });
  }
}

function structureError(record: LogicalRecord, expected: string): Error {
  return statementError("STATEMENT_MALFORMED", `a ${record.code} record here, where ${expected} must come`, { line: record.line, record: record.code });
}

async function* parseBai2(text: AsyncIterable<string>, options: ImportOptions): AsyncGenerator<StatementItem, void, undefined> {
  let header: FileHeader | undefined;
  let group: Group | undefined;
  let account: Account | undefined;
  let ended = false;
  let fileRecords = 0;
  let fileComputedMinor = 0n;
  let groups = 0;
  let sections = 0;
  let lines = 0;
  let lastLine = 1;
  const fileTotals: ParsedControlTotal[] = [];
  for await (const record of readRecords(text, options.limits)) {
    lastLine = record.line;
    if (ended) throw statementError("STATEMENT_MALFORMED", "a record after the file trailer (99)", { line: record.line, record: record.code });
    fileRecords += record.physicalCount;
    if (group !== undefined) group.records += record.physicalCount;
    if (account !== undefined) account.records += record.physicalCount;
    switch (record.code) {
      case "01":
        if (header !== undefined) throw structureError(record, "a group header (02) or the file trailer (99)");
        header = fileHeader(record);
        break;
      case "02":
        if (header === undefined) throw structureError(record, "the file header (01)");
        if (group !== undefined) throw structureError(record, account === undefined ? "an account (03) or the group trailer (98)" : "a detail (16) or the account trailer (49)");
        groups++;
        if (groups > BAI2_GROUPS_MAX) throw statementError("STATEMENT_MALFORMED", `more than ${BAI2_GROUPS_MAX} groups in one file`, { line: record.line, record: "02" }, { limit: BAI2_GROUPS_MAX });
        group = groupHeader(record, groups);
        group.records = record.physicalCount;
        break;
      case "03":
        if (group === undefined) throw structureError(record, header === undefined ? "the file header (01)" : "a group header (02) or the file trailer (99)");
        if (account !== undefined) throw structureError(record, "a detail (16) or the account trailer (49)");
        account = accountHeader(record, group, sections);
        account.records = record.physicalCount;
        sections++;
        group.accounts++;
        break;
      case "16": {
        if (account === undefined || group === undefined) throw structureError(record, group === undefined ? "a group header (02)" : "an account (03)");
        const { line, amountMinor } = detail(record, account, group);
        account.computedMinor += amountMinor;
        if (line === null) break;
        lines++;
        if (lines > options.limits.linesMax) throw tooManyLines(line.location, options.limits.linesMax);
        account.lineCount++;
        yield { kind: "line", section: account.section, line };
        break;
      }
      case "49": {
        if (account === undefined || group === undefined) throw structureError(record, group === undefined ? "a group header (02)" : "an account (03) or the group trailer (98)");
        const cursor = new FieldCursor(record);
        const totalField = cursor.required("account control total");
        const declaredMinor = signedAmount(totalField, "account control total");
        checkCount(cursor.required("number of records"), "records in the account", account.records);
        cursor.end();
        yield { kind: "statement", statement: statementOf(account, group, header, { scope: `account ${account.accountNumber}`, declaredMinor, computedMinor: account.computedMinor, location: totalField.location }) };
        group.computedMinor += account.computedMinor;
        account = undefined;
        break;
      }
      case "98": {
        if (group === undefined || account !== undefined) throw structureError(record, group === undefined ? "a group header (02) or the file trailer (99)" : "a detail (16) or the account trailer (49)");
        const cursor = new FieldCursor(record);
        const totalField = cursor.required("group control total");
        const declaredMinor = signedAmount(totalField, "group control total");
        checkCount(cursor.required("number of accounts"), "accounts in the group", group.accounts);
        checkCount(cursor.required("number of records"), "records in the group", group.records);
        cursor.end();
        fileTotals.push({ scope: `group ${group.number}`, declaredMinor, computedMinor: group.computedMinor, location: totalField.location });
        fileComputedMinor += group.computedMinor;
        group = undefined;
        break;
      }
      case "99": {
        if (header === undefined || group !== undefined) throw structureError(record, header === undefined ? "the file header (01)" : account === undefined ? "the group trailer (98)" : "the account trailer (49)");
        const cursor = new FieldCursor(record);
        const totalField = cursor.required("file control total");
        const declaredMinor = signedAmount(totalField, "file control total");
        checkCount(cursor.required("number of groups"), "groups in the file", groups);
        checkCount(cursor.required("number of records"), "records in the file", fileRecords);
        cursor.end();
        fileTotals.push({ scope: "file", declaredMinor, computedMinor: fileComputedMinor, location: totalField.location });
        ended = true;
        break;
      }
      default:
        throw statementError("STATEMENT_MALFORMED", `record code ${record.code} is not a BAI2 record (01, 02, 03, 16, 49, 88, 98, 99)`, { line: record.line, record: record.code });
    }
  }
  if (!ended) {
    const missing = header === undefined ? "a file header (01)" : account !== undefined ? "an account trailer (49)" : group !== undefined ? "a group trailer (98)" : "a file trailer (99)";
    throw statementError("STATEMENT_MALFORMED", `the file ends without ${missing}: it is truncated`, { line: lastLine });
  }
  if (sections === 0) throw statementError("STATEMENT_EMPTY", "the file has no account (03 record)", { line: lastLine, record: "99" });
  yield { kind: "file", controlTotals: fileTotals };
}

function statementOf(account: Account, group: Group, header: FileHeader | undefined, control: ParsedControlTotal): ParsedStatement {
  return {
    format: "bai2",
    section: account.section,
    account: { iban: null, accountNumber: account.accountNumber, bankId: group.originator, currency: account.currency, location: account.location },
    currency: account.currency,
    statementReference: header?.fileId ?? null,
    // The file id is unique per sender and creation date only, not a running
    // number: comparing it for gaps would report gaps that are not there.
    sequenceNumber: null,
    pageNumber: null,
    createdAt: header?.createdAt ?? null,
    periodStart: group.asOfDate,
    periodEnd: group.asOfDate,
    openingBalance: account.openingBalance,
    closingBalance: account.closingBalance,
    availableBalance: account.availableBalance,
    balanceKind: null,
    controlTotals: [control],
    lineCount: account.lineCount,
    location: account.location,
  };
}

/** `01,sender,receiver,YYMMDD,` at the start (after blank lines): certain enough (CSV is never detected, only chosen). */
const HEAD = /^01,[^,\r\n]*,[^,\r\n]*,\d{6},/;

export const bai2Importer: Importer = {
  name: "bai2",
  formats: ["bai2"] satisfies StatementFormat[],
  detect(head: string): StatementFormat | undefined {
    return HEAD.test(head.replace(/^[\r\n]+/, "")) ? "bai2" : undefined;
  },
  parse: parseBai2,
};
