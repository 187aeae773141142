// One camt section (Stmt in camt.053, Rpt in camt.052, Ntfctn in camt.054):
// its header facts as their elements close, running tallies of its entries
// and lines (never the lines themselves), and at its end the ParsedStatement.
import type { ParsedAccount, ParsedBalance, ParsedControlTotal, ParsedLine, ParsedStatement, StatementFormat } from "@trueup/contracts";
import { statementError } from "../shared.ts";
import { positionOf } from "./xml-reader.ts";
import type { XmlElement } from "./xml-reader.ts";
import type { EntryResult } from "./entry.ts";
import { amountOf, at, choiceDateAt, currencyAt, dateTimeDate, decimalIn, identifierAt, identifierOf, one, requiredSide, textAt, where } from "./fields.ts";

/** Direct children of a section the importer reads; every other one (pagination, interest, AddtlStmtInf…) passes by unkept. */
export const SECTION_CHILDREN: ReadonlySet<string> = new Set(["Id", "ElctrncSeqNb", "LglSeqNb", "CreDtTm", "FrToDt", "Acct", "Bal", "TxsSummry", "Ntry"]);

/**
 * Entries whose transactions do not add up to them, kept as control totals
 * per section. Beyond it the first ones already make the check fail; more
 * would only grow the header (one per entry of a hostile file).
 */
export const ENTRY_MISMATCHES_MAX = 20;

interface Tally {
  count: bigint;
  sumMinor: bigint;
}

export class CamtSection {
  readonly #element: XmlElement;
  readonly #format: StatementFormat;
  readonly #section: number;
  readonly #seen = new Set<string>();
  #reference: string | null = null;
  #sequenceNumber: string | null = null;
  #pageNumber: string | null = null;
  #createdAt: string | null = null;
  #periodStart: string | null = null;
  #periodEnd: string | null = null;
  #account: ParsedAccount | null = null;
  #opening: ParsedBalance | null = null;
  #previousClosing: ParsedBalance | null = null;
  #closing: ParsedBalance | null = null;
  #available: ParsedBalance | null = null;
  /** The first and the last ITBD of the section (pages and intraday reports carry interim balances). */
  #firstInterimBooked: ParsedBalance | null = null;
  #lastInterimBooked: ParsedBalance | null = null;
  #interimAvailable: ParsedBalance | null = null;
  #summary: XmlElement | null = null;
  #lineCount = 0;
  #firstEntryCurrency: string | null = null;
  #dateMin: string | null = null;
  #dateMax: string | null = null;
  readonly #credits: Tally = { count: 0n, sumMinor: 0n };
  readonly #debits: Tally = { count: 0n, sumMinor: 0n };
  readonly #mismatches: ParsedControlTotal[] = [];

  constructor(options: { element: XmlElement; format: StatementFormat; section: number }) {
    this.#element = options.element;
    this.#format = options.format;
    this.#section = options.section;
  }

  /** `Stmt[1]`: the section's name in control-total scopes. */
  get scope(): string {
    return `${this.#element.name}[${positionOf(this.#element)}]`;
  }

  /** A closed header child of the section (anything in SECTION_CHILDREN but Ntry). */
  take(child: XmlElement): void {
    if (child.name !== "Bal") this.#once(child);
    switch (child.name) {
      case "Id":
        this.#reference = identifierOf(child);
        return;
      case "ElctrncSeqNb":
        this.#sequenceNumber = identifierOf(child);
        return;
      case "LglSeqNb":
        this.#pageNumber = identifierOf(child);
        return;
      case "CreDtTm":
        this.#createdAt = identifierOf(child);
        return;
      case "FrToDt":
        this.#takePeriod(child);
        return;
      case "Acct":
        this.#account = accountOf(child);
        return;
      case "Bal":
        this.#takeBalance(child);
        return;
      case "TxsSummry":
        // Read at the end: its sums need the statement's currency, and the counts need every entry.
        this.#summary = child;
        return;
    }
  }

  /** An entry read; `lines` are yielded by the caller. */
  addEntry(result: EntryResult): void {
    this.#firstEntryCurrency ??= result.entry.currency;
    const tally = result.entry.side === "credit" ? this.#credits : this.#debits;
    tally.count++;
    tally.sumMinor += result.entry.amountMinor;
    if (result.mismatch !== null && this.#mismatches.length < ENTRY_MISMATCHES_MAX) this.#mismatches.push(result.mismatch);
    for (const line of result.lines) this.#addLine(line);
  }

  finish(): ParsedStatement {
    const currency = this.#account?.currency ?? this.#opening?.currency ?? this.#closing?.currency ?? this.#firstEntryCurrency;
    if (currency === null) throw statementError("STATEMENT_MALFORMED", "the section names no currency: no Acct/Ccy, no balance, no entry", where(this.#element));
    const { opening, closing } = this.#bookedBalances();
    return {
      format: this.#format,
      section: this.#section,
      account: this.#account ?? { iban: null, accountNumber: null, bankId: null, currency: null, location: where(this.#element) },
      currency,
      statementReference: this.#reference,
      sequenceNumber: this.#sequenceNumber,
      pageNumber: this.#pageNumber,
      createdAt: this.#createdAt,
      ...this.#period(closing),
      openingBalance: opening,
      closingBalance: closing,
      availableBalance: this.#available ?? this.#interimAvailable,
      balanceKind: null,
      controlTotals: [...this.#summaryTotals(currency), ...this.#mismatches],
      lineCount: this.#lineCount,
      location: where(this.#element),
    };
  }

  /**
   * Opening and closing booked balances. OPBD (else PRCD) opens and CLBD
   * closes; interim booked balances (ITBD) stand in where they are missing,
   * as banks use them: a page of a statement in several pages opens and/or
   * closes with ITBD (first page OPBD…ITBD, middle pages ITBD…ITBD, last
   * page ITBD…CLBD), and a camt.052 intraday report closes with the ITBD of
   * the moment it was made. A single ITBD closes, unless CLBD does.
   */
  #bookedBalances(): { opening: ParsedBalance | null; closing: ParsedBalance | null } {
    const first = this.#firstInterimBooked;
    const last = this.#lastInterimBooked;
    const closing = this.#closing ?? last;
    let opening = this.#opening ?? this.#previousClosing;
    if (opening === null && first !== null && first !== closing) opening = first;
    return { opening, closing };
  }

  #addLine(line: ParsedLine): void {
    this.#lineCount++;
        const date = line.bookingDate ?? line.valueDate;
    if (date === null) return;
    if (this.#dateMin === null || date < this.#dateMin) this.#dateMin = date;
    if (this.#dateMax === null || date > this.#dateMax) this.#dateMax = date;
  }

  #once(child: XmlElement): void {
    if (this.#seen.has(child.name)) throw statementError("STATEMENT_MALFORMED", `${child.name} is given more than once in ${this.#element.name}`, where(child));
    this.#seen.add(child.name);
  }

  #takePeriod(frToDt: XmlElement): void {
    const from = one(frToDt, "FrDtTm");
    const to = one(frToDt, "ToDtTm");
    this.#periodStart = from === null ? null : dateTimeDate(from);
    this.#periodEnd = to === null ? null : dateTimeDate(to);
  }

  /**
   * The period as the file states it (FrToDt), else the span of the lines'
   * dates and the closing balance's date, else the opening balance's date.
   */
  #period(closing: ParsedBalance | null): { periodStart: string | null; periodEnd: string | null } {
    if (this.#periodStart !== null || this.#periodEnd !== null) return { periodStart: this.#periodStart, periodEnd: this.#periodEnd };
    let start = this.#dateMin;
    let end = this.#dateMax;
    const closingDate = closing?.date ?? null;
    if (closingDate !== null) {
      if (start === null || closingDate < start) start = closingDate;
      if (end === null || closingDate > end) end = closingDate;
    }
    const openingDate = this.#bookedBalances().opening?.date ?? null;
    return { periodStart: start ?? openingDate, periodEnd: end ?? openingDate };
  }

  #takeBalance(bal: XmlElement): void {
    const code = textAt(bal, "Tp", "CdOrPrtry", "Cd");
    const amountElement = one(bal, "Amt");
    if (amountElement === null) throw statementError("STATEMENT_MALFORMED", "the balance has no Amt", where(bal));
    const amount = amountOf(amountElement);
    const balance: ParsedBalance = { amountMinor: amount.amountMinor, side: requiredSide(bal), currency: amount.currency, date: choiceDateAt(bal, "Dt"), location: where(bal) };
    switch (code) {
      case "OPBD":
        this.#opening = this.#single(this.#opening, balance, bal);
        return;
      case "PRCD":
        this.#previousClosing = this.#single(this.#previousClosing, balance, bal);
        return;
      case "CLBD":
        this.#closing = this.#single(this.#closing, balance, bal);
        return;
      case "CLAV":
        this.#available = this.#single(this.#available, balance, bal);
        return;
      case "ITBD":
        this.#firstInterimBooked ??= balance;
        this.#lastInterimBooked = balance;
        return;
      case "ITAV":
        this.#interimAvailable = balance;
        return;
      default:
        // Forward, opening-available, information balances: not what the checks compare.
        return;
    }
  }

  /** Two opening (or closing) balances cannot both be the statement's: refused rather than one chosen. */
  #single(existing: ParsedBalance | null, balance: ParsedBalance, bal: XmlElement): ParsedBalance {
    if (existing !== null) throw statementError("STATEMENT_MALFORMED", `a second ${textAt(bal, "Tp", "CdOrPrtry", "Cd") ?? ""} balance in ${this.#element.name}`, where(bal));
    return balance;
  }

  /**
   * TxsSummry: counts of entries that are wrong make the file malformed
   * (STATEMENT_RECORD_COUNT_MISMATCH); its sums become control totals for
   * the checks. Sum is of absolute amounts; the net (TtlNetNtry) is signed,
   * credit positive, so declared and computed compare in one convention.
   */
  #summaryTotals(currency: string): ParsedControlTotal[] {
    const summary = this.#summary;
    if (summary === null) return [];
    const totals: ParsedControlTotal[] = [];
    const all = { count: this.#credits.count + this.#debits.count, sumMinor: this.#credits.sumMinor + this.#debits.sumMinor };
    const groups: [string, Tally][] = [
      ["TtlNtries", all],
      ["TtlCdtNtries", this.#credits],
      ["TtlDbtNtries", this.#debits],
    ];
    for (const [name, tally] of groups) {
      const group = one(summary, name);
      if (group === null) continue;
      this.#checkCount(one(group, "NbOfNtries"), tally.count);
      const sum = one(group, "Sum");
      if (sum !== null) totals.push({ scope: `${this.scope}/TxsSummry/${name}/Sum`, declaredMinor: decimalIn(sum, currency), computedMinor: tally.sumMinor, location: where(sum) });
    }
    const net = this.#declaredNet(one(summary, "TtlNtries"), currency);
    if (net !== null) totals.push({ ...net, computedMinor: this.#credits.sumMinor - this.#debits.sumMinor });
    return totals;
  }

  #checkCount(element: XmlElement | null, computed: bigint): void {
    if (element === null) return;
    const text = element.text.trim();
    if (!/^\d{1,15}$/.test(text)) throw statementError("STATEMENT_MALFORMED", `NbOfNtries is ${JSON.stringify(text.slice(0, 40))}, not a count`, where(element));
    if (BigInt(text) !== computed) {
      throw statementError("STATEMENT_RECORD_COUNT_MISMATCH", `${element.parent?.name ?? ""}/NbOfNtries says ${text} entries; the section has ${computed}`, where(element), {
        expected: text,
        actual: String(computed),
      });
    }
  }

  /** v3+ TtlNtries/TtlNetNtry/{Amt,CdtDbtInd}; v2 TtlNtries/{TtlNetNtryAmt,CdtDbtInd}. */
  #declaredNet(totals: XmlElement | null, currency: string): Omit<ParsedControlTotal, "computedMinor"> | null {
    if (totals === null) return null;
    const net = one(totals, "TtlNetNtry");
    const amount = net === null ? one(totals, "TtlNetNtryAmt") : one(net, "Amt");
    if (amount === null) return null;
    const holder = net ?? totals;
    const magnitude = decimalIn(amount, currency);
    const debit = at(holder, "CdtDbtInd") !== null && requiredSide(holder) === "debit";
    return { scope: `${this.scope}/TxsSummry/TtlNtries/TtlNetNtry`, declaredMinor: debit ? -magnitude : magnitude, location: where(amount) };
  }
}

function accountOf(acct: XmlElement): ParsedAccount {
  const id = one(acct, "Id");
  const institution = at(acct, "Svcr", "FinInstnId");
  return {
    iban: identifierAt(id, "IBAN"),
    accountNumber: identifierAt(id, "Othr", "Id"),
    bankId: identifierAt(institution, "BIC") ?? identifierAt(institution, "BICFI") ?? identifierAt(institution, "ClrSysMmbId", "MmbId"),
    currency: currencyAt(acct, "Ccy"),
    location: where(acct),
  };
}
