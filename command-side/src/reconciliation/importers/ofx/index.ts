// OFX 1.x (SGML) and 2.x (XML) bank and credit-card statements:
// BANKMSGSRSV1/STMTTRNRS/STMTRS and CREDITCARDMSGSRSV1/CCSTMTTRNRS/CCSTMTRS,
// each statement aggregate one section; STMTTRN elements its lines.
//
// Our own parser, not a library's: the npm OFX packages build the whole
// document as an object tree (unbounded memory), parse TRNAMT with
// parseFloat, and either require well-formed XML (so 1.x files fail) or
// regex-patch SGML into XML. Here one streaming tokenizer (tokenizer.ts)
// reads both, and amounts stay exact.
//
// Mapping choices:
// - DTPOSTED is the booking date; DTAVAIL (when the funds are available)
//   is the value date; DTUSER (when the holder made the transaction) is
//   kept as the `userDate` attribute, since it is neither.
// - Dates keep the day as written: the bank's day, not shifted to UTC.
// - FITID is the bank reference (the spec makes it unique per account).
// - CHECKNUM, else REFNUM, is the customer reference; both are attributes too.
// - NAME (or PAYEE/NAME) is the counterparty's name; MEMO the description
//   (NAME when there is no MEMO).
// - A CURRENCY aggregate means the amounts are in that currency (the line
//   carries it; the currency check reports it); ORIGCURRENCY means they are
//   in CURDEF, converted: the original currency and rate are attributes.
// - LEDGERBAL is the closing balance, AVAILBAL the available one; OFX
//   states no opening balance.
import { NO_BANK_CODES, NO_COUNTERPARTY, STATEMENT_LINE_LIMITS, statementCurrencyOf } from "@trueup/contracts";
import type { ParsedBalance, ParsedLine, ParsedStatement, SourceLocation, StatementFormat, StatementItem } from "@trueup/contracts";
import { cleanText, statementError, tooManyLines } from "../shared.ts";
import type { Importer, ImportLimits, ImportOptions } from "../types.ts";
import { OfxTokenizer } from "./tokenizer.ts";
import type { OfxToken } from "./tokenizer.ts";
import { ofxAmount, ofxDate } from "./values.ts";

interface Value {
  readonly value: string;
  readonly location: SourceLocation;
}

/** Leaves of one aggregate, each at most once: a second TRNAMT in one STMTTRN would make the line ambiguous. */
class Leaves {
  private readonly values = new Map<string, Value>();
  constructor(private readonly names: ReadonlySet<string>) {}

  set(name: string, value: Value): void {
    if (!this.names.has(name)) return;
    if (this.values.has(name)) throw statementError("STATEMENT_MALFORMED", `<${name}> appears twice in one aggregate`, value.location);
    this.values.set(name, value);
  }

  get(name: string): Value | undefined {
    const value = this.values.get(name);
    return value === undefined || value.value === "" ? undefined : value;
  }
}

const STATEMENT_AGGREGATES: ReadonlySet<string> = new Set(["STMTRS", "CCSTMTRS"]);
const WRAPPERS: ReadonlySet<string> = new Set(["STMTTRNRS", "CCSTMTTRNRS"]);
const ACCOUNT_FROM: ReadonlySet<string> = new Set(["BANKACCTFROM", "CCACCTFROM"]);
const ACCOUNT_TO: ReadonlySet<string> = new Set(["BANKACCTTO", "CCACCTTO"]);
const ACCOUNT_LEAVES: ReadonlySet<string> = new Set(["BANKID", "BRANCHID", "ACCTID", "ACCTTYPE", "ACCTKEY"]);
const TRANSACTION_LEAVES: ReadonlySet<string> = new Set([
  "TRNTYPE", "DTPOSTED", "DTUSER", "DTAVAIL", "TRNAMT", "FITID", "CORRECTFITID", "CORRECTACTION",
  "SRVRTID", "CHECKNUM", "REFNUM", "SIC", "PAYEEID", "NAME", "EXTDNAME", "MEMO", "INV401KSOURCE",
]);
const BALANCE_LEAVES: ReadonlySet<string> = new Set(["BALAMT", "DTASOF"]);
const CURRENCY_LEAVES: ReadonlySet<string> = new Set(["CURRATE", "CURSYM"]);

interface Section {
  readonly index: number;
  readonly card: boolean;
  readonly location: SourceLocation;
  readonly statementReference: string | null;
  currency: Value | undefined;
  readonly account: Leaves;
  readonly period: Leaves;
  closing: ParsedBalance | null;
  available: ParsedBalance | null;
  lineCount: number;
}

interface Transaction {
  readonly location: SourceLocation;
  readonly leaves: Leaves;
  readonly payee: Leaves;
  readonly currency: Leaves;
  readonly originalCurrency: Leaves;
  readonly counterparty: Leaves;
}

/** An identifier (FITID, CHECKNUM, ACCTID, TRNUID): null when empty, refused when longer than the stores hold (a cut one would name another line). */
function identifier(value: Value | undefined, name: string): string | null {
  if (value === undefined) return null;
  const trimmed = value.value.trim();
  if (trimmed === "") return null;
  if (trimmed.length > STATEMENT_LINE_LIMITS.fieldLengthMax) throw statementError("STATEMENT_MALFORMED", `<${name}> is longer than ${STATEMENT_LINE_LIMITS.fieldLengthMax} characters`, value.location, { limit: STATEMENT_LINE_LIMITS.fieldLengthMax });
  return trimmed;
}

/** Descriptive text: cut to `max` (names and memos are not identities; the raw element keeps them whole). */
function text(value: Value | undefined, max: number): string | null {
  return cleanText(value?.value)?.slice(0, max) ?? null;
}

function currencyCode(value: Value): string {
  const code = value.value.trim().toUpperCase();
  if (statementCurrencyOf(code) === undefined) throw statementError("STATEMENT_MALFORMED", `${JSON.stringify(value.value.slice(0, 20))} is not an ISO 4217 currency`, value.location);
  return code;
}

class StatementBuilder {
  private section: Section | undefined;
  private transaction: Transaction | undefined;
  private balance: { readonly name: string; readonly location: SourceLocation; readonly leaves: Leaves } | undefined;
  private statementReference: string | null = null;
  private createdAt: string | null = null;
  private sections = 0;
  private lines = 0;

  constructor(private readonly limits: ImportLimits) {}

  on(token: OfxToken): StatementItem | undefined {
    switch (token.kind) {
      case "open":
        this.onOpen(token.name, token.parent, token.location);
        return undefined;
      case "leaf":
        this.onLeaf(token.name, token.parent, { value: token.value, location: token.location });
        return undefined;
      case "close":
        return this.onClose(token.name, token.raw);
    }
  }

  finish(line: number): StatementItem {
    if (this.sections === 0) throw statementError("STATEMENT_EMPTY", "the file has no bank (STMTRS) or credit-card (CCSTMTRS) statement", { line });
    return { kind: "file", controlTotals: [] };
  }

  private onOpen(name: string, parent: string | undefined, location: SourceLocation): void {
    if (WRAPPERS.has(name)) this.statementReference = null;
    else if (STATEMENT_AGGREGATES.has(name)) {
      if (this.section !== undefined) throw statementError("STATEMENT_MALFORMED", `<${name}> inside another statement`, location);
      this.section = {
        index: this.sections++,
        card: name === "CCSTMTRS",
        location,
        statementReference: this.statementReference,
        currency: undefined,
        account: new Leaves(ACCOUNT_LEAVES),
        period: new Leaves(new Set(["DTSTART", "DTEND"])),
        closing: null,
        available: null,
        lineCount: 0,
      };
    } else if (name === "STMTTRN" && this.section !== undefined) {
      const open = this.transaction;
      if (open !== undefined) throw statementError("STATEMENT_MALFORMED", `<STMTTRN> is not closed before the next <STMTTRN> (line ${location.line})`, open.location);
      if (parent !== "BANKTRANLIST") throw statementError("STATEMENT_MALFORMED", "<STMTTRN> outside a BANKTRANLIST", location);
      this.transaction = {
        location,
        leaves: new Leaves(TRANSACTION_LEAVES),
        payee: new Leaves(new Set(["NAME"])),
        currency: new Leaves(CURRENCY_LEAVES),
        originalCurrency: new Leaves(CURRENCY_LEAVES),
        counterparty: new Leaves(ACCOUNT_LEAVES),
      };
    } else if ((name === "LEDGERBAL" || name === "AVAILBAL") && parent !== undefined && STATEMENT_AGGREGATES.has(parent)) {
      this.balance = { name, location, leaves: new Leaves(BALANCE_LEAVES) };
    }
  }

  private onLeaf(name: string, parent: string | undefined, value: Value): void {
    if (parent === undefined) return;
    const section = this.section;
    const transaction = this.transaction;
    if (WRAPPERS.has(parent) && name === "TRNUID") this.statementReference = identifier(value, name);
    else if (parent === "SONRS" && name === "DTSERVER") this.createdAt = ofxDate(value.value, value.location).dateTime;
    else if (section === undefined) return;
    else if (STATEMENT_AGGREGATES.has(parent) && name === "CURDEF") section.currency = value;
    else if (ACCOUNT_FROM.has(parent)) section.account.set(name, value);
    else if (parent === "BANKTRANLIST") section.period.set(name, value);
    else if (parent === "STMTTRN") transaction?.leaves.set(name, value);
    else if (parent === "PAYEE") transaction?.payee.set(name, value);
    else if (parent === "CURRENCY") transaction?.currency.set(name, value);
    else if (parent === "ORIGCURRENCY") transaction?.originalCurrency.set(name, value);
    else if (ACCOUNT_TO.has(parent)) transaction?.counterparty.set(name, value);
    else if (parent === this.balance?.name) this.balance.leaves.set(name, value);
  }

  private onClose(name: string, raw: string | undefined): StatementItem | undefined {
    const section = this.section;
    if (name === "STMTTRN" && section !== undefined && this.transaction !== undefined) {
      const line = this.line(section, this.transaction, raw ?? "");
      this.transaction = undefined;
      this.lines++;
      if (this.lines > this.limits.linesMax) throw tooManyLines(line.location, this.limits.linesMax);
      section.lineCount++;
      return { kind: "line", section: section.index, line };
    }
    if ((name === "LEDGERBAL" || name === "AVAILBAL") && section !== undefined && this.balance?.name === name) {
      const balance = this.parsedBalance(section, this.balance.location, this.balance.leaves);
      if (name === "LEDGERBAL") section.closing = balance;
      else section.available = balance;
      this.balance = undefined;
      return undefined;
    }
    if (STATEMENT_AGGREGATES.has(name) && section !== undefined) {
      this.section = undefined;
      return { kind: "statement", statement: this.statement(section) };
    }
    return undefined;
  }

  private sectionCurrency(section: Section, location: SourceLocation): string {
    if (section.currency === undefined) throw statementError("STATEMENT_MALFORMED", "the statement has no <CURDEF> before its transactions and balances", location);
    return currencyCode(section.currency);
  }

  private parsedBalance(section: Section, location: SourceLocation, leaves: Leaves): ParsedBalance {
    const amount = leaves.get("BALAMT");
    if (amount === undefined) throw statementError("STATEMENT_MALFORMED", "the balance has no <BALAMT>", location);
    const currency = this.sectionCurrency(section, location);
    const { amountMinor, negative } = ofxAmount(amount.value, currency, amount.location);
    const asOf = leaves.get("DTASOF");
    return {
      amountMinor,
      side: negative && amountMinor > 0n ? "debit" : "credit",
      currency,
      date: asOf === undefined ? null : ofxDate(asOf.value, asOf.location).date,
      location: amount.location,
    };
  }

  private line(section: Section, transaction: Transaction, raw: string): ParsedLine {
    const { leaves, location } = transaction;
    const amount = leaves.get("TRNAMT");
    if (amount === undefined) throw statementError("STATEMENT_MALFORMED", "the transaction has no <TRNAMT>", location);
    const posted = leaves.get("DTPOSTED");
    if (posted === undefined) throw statementError("STATEMENT_MALFORMED", "the transaction has no <DTPOSTED>", location);
    const ownCurrency = transaction.currency.get("CURSYM");
    const currency = ownCurrency === undefined ? this.sectionCurrency(section, location) : currencyCode(ownCurrency);
    const { amountMinor, negative } = ofxAmount(amount.value, currency, amount.location);
    const available = leaves.get("DTAVAIL");
    const user = leaves.get("DTUSER");
    const checkNumber = identifier(leaves.get("CHECKNUM"), "CHECKNUM");
    const refNumber = identifier(leaves.get("REFNUM"), "REFNUM");
    const attributes: Record<string, string> = {};
    const put = (key: string, value: string | null | undefined) => {
      if (value !== null && value !== undefined && value !== "") attributes[key] = value.slice(0, STATEMENT_LINE_LIMITS.fieldLengthMax);
    };
    put("checkNumber", checkNumber);
    put("refNumber", refNumber);
    put("userDate", user === undefined ? null : ofxDate(user.value, user.location).date);
    put("serverTransactionId", identifier(leaves.get("SRVRTID"), "SRVRTID"));
    put("correctFitId", identifier(leaves.get("CORRECTFITID"), "CORRECTFITID"));
    put("correctAction", leaves.get("CORRECTACTION")?.value);
    put("sic", leaves.get("SIC")?.value);
    put("payeeId", leaves.get("PAYEEID")?.value);
    put("extendedName", text(leaves.get("EXTDNAME"), STATEMENT_LINE_LIMITS.fieldLengthMax));
    put("accountType", section.account.get("ACCTTYPE")?.value);
    const original = transaction.originalCurrency.get("CURSYM");
    put("originalCurrency", original === undefined ? null : currencyCode(original));
    put("currencyRate", (transaction.currency.get("CURRATE") ?? transaction.originalCurrency.get("CURRATE"))?.value);
    put("counterpartyBankId", transaction.counterparty.get("BANKID")?.value);
    put("counterpartyBranchId", transaction.counterparty.get("BRANCHID")?.value);
    put("counterpartyAccountType", transaction.counterparty.get("ACCTTYPE")?.value);
    const name = transaction.payee.get("NAME") ?? leaves.get("NAME");
    return {
      amountMinor,
      side: negative && amountMinor > 0n ? "debit" : "credit",
      currency,
      bookingDate: ofxDate(posted.value, posted.location).date,
      valueDate: available === undefined ? null : ofxDate(available.value, available.location).date,
      reversal: false,
      bankReference: identifier(leaves.get("FITID"), "FITID"),
      endToEndId: null,
      customerReference: checkNumber ?? refNumber,
      creditorReference: null,
      remittanceInformation: null,
      description: text(leaves.get("MEMO") ?? leaves.get("NAME"), STATEMENT_LINE_LIMITS.textLengthMax),
      counterparty: { ...NO_COUNTERPARTY, name: text(name, STATEMENT_LINE_LIMITS.fieldLengthMax), accountNumber: identifier(transaction.counterparty.get("ACCTID"), "ACCTID") },
      bankCodes: { ...NO_BANK_CODES, ofx: text(leaves.get("TRNTYPE"), STATEMENT_LINE_LIMITS.fieldLengthMax) },
      chargesMinor: null,
      batch: null,
      attributes,
      raw,
      location,
    };
  }

  private statement(section: Section): ParsedStatement {
    const currency = this.sectionCurrency(section, section.location);
    const accountId = section.account.get("ACCTID");
    const accountNumber = identifier(accountId, "ACCTID");
    if (accountNumber === null) throw statementError("STATEMENT_MALFORMED", `the statement names no account (<${section.card ? "CCACCTFROM" : "BANKACCTFROM"}><ACCTID>)`, section.location);
    const start = section.period.get("DTSTART");
    const end = section.period.get("DTEND");
    return {
      format: "ofx",
      section: section.index,
      account: {
        iban: null,
        accountNumber,
        bankId: section.card ? null : identifier(section.account.get("BANKID"), "BANKID"),
        currency,
        location: accountId?.location ?? section.location,
      },
      currency,
      statementReference: section.statementReference,
      sequenceNumber: null,
      pageNumber: null,
      createdAt: this.createdAt,
      periodStart: start === undefined ? null : ofxDate(start.value, start.location).date,
      periodEnd: end === undefined ? null : ofxDate(end.value, end.location).date,
      openingBalance: null,
      closingBalance: section.closing,
      availableBalance: section.available,
      balanceKind: null,
      controlTotals: [],
      lineCount: section.lineCount,
      location: section.location,
    };
  }
}

async function* parseOfx(text: AsyncIterable<string>, options: ImportOptions): AsyncGenerator<StatementItem, void, undefined> {
  const tokenizer = new OfxTokenizer(options.limits.lineLengthMax);
  const builder = new StatementBuilder(options.limits);
  for await (const chunk of text) {
    for (const token of tokenizer.feed(chunk)) {
      const item = builder.on(token);
      if (item !== undefined) yield item;
    }
  }
  for (const token of tokenizer.finish()) {
    const item = builder.on(token);
    if (item !== undefined) yield item;
  }
  yield builder.finish(tokenizer.lineNumber);
}

/** An OFX 1.x header, or (after an XML declaration and processing instructions) an <OFX> root element. */
const HEAD = /^\s*(?:OFXHEADER\s*:|(?:<\?[^>]*\?>\s*)*<OFX>)/i;

export const ofxImporter: Importer = {
  name: "ofx",
  formats: ["ofx"] satisfies StatementFormat[],
  detect(head: string): StatementFormat | undefined {
    return HEAD.test(head) ? "ofx" : undefined;
  },
  parse: parseOfx,
};
