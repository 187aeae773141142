// The typed statement every importer produces, whatever the file format:
// what the bank said, exactly (bigint minor units, ISO dates, the bank's own
// references), plus where in the file each fact came from. Pure data: the
// importers (command-side/src/reconciliation/importers/) build it, the
// statement checks and the import command read it. Nothing here is stored
// as is; the events (events.ts) carry its JSON form.
import type { Side } from "../ledger/events.ts";

/** Formats the importers read. `camt.052` is intraday, `camt.054` notifications, `mt942` interim. */
export const STATEMENT_FORMATS = ["camt.053", "camt.052", "camt.054", "mt940", "mt942", "bai2", "ofx", "csv"] as const;
export type StatementFormat = (typeof STATEMENT_FORMATS)[number];

/**
 * Where a fact is in the source file. `line` is 1-based in the decoded text
 * (every format has lines, XML included); `element` is an XML element path
 * with 1-based positions among same-named siblings, e.g.
 * `/Document/BkToCstmrStmt/Stmt[1]/Ntry[7]/Amt`; `record` names a record
 * type (BAI2 `16`, MT940 `:61:`), `column` a CSV column.
 */
export interface SourceLocation {
  readonly line: number;
  readonly column?: string | undefined;
  readonly element?: string | undefined;
  readonly record?: string | undefined;
}

/**
 * A balance as banks state it: an unsigned amount and a side. `credit` means
 * the bank owes the account holder (a positive balance), `debit` an
 * overdraft. Zero is `credit`.
 */
export interface ParsedBalance {
  readonly amountMinor: bigint;
  readonly side: Side;
  readonly currency: string;
  /** The date the balance is at (YYYY-MM-DD), when the file says. */
  readonly date: string | null;
  readonly location: SourceLocation;
}

/** The other party of a line, as far as the file names it. */
export interface ParsedCounterparty {
  readonly name: string | null;
  readonly iban: string | null;
  /** A non-IBAN account number (BBAN, US/CA account), as the file writes it. */
  readonly accountNumber: string | null;
  readonly bic: string | null;
}

/**
 * The bank's classification of a line. ISO 20022 domain/family/sub-family
 * (`PMNT`/`RCDT`/`ESCT`), a proprietary code and its issuer, the SWIFT
 * transaction type of an MT940 `:61:` (`NTRF`, `NCHK`…), a BAI2 type code
 * (`409`), an OFX TRNTYPE (`POS`), a PSP reporting category (`charge`).
 */
export interface ParsedBankCodes {
  readonly domain: string | null;
  readonly family: string | null;
  readonly subFamily: string | null;
  readonly proprietary: string | null;
  readonly proprietaryIssuer: string | null;
  readonly swift: string | null;
  readonly bai2: string | null;
  readonly ofx: string | null;
  readonly psp: string | null;
}

/** One money movement on the account: what the matcher will read. */
export interface ParsedLine {
  /** Unsigned; `side` gives the direction. Zero is allowed (some banks list zero-amount notices). */
  readonly amountMinor: bigint;
  /** `credit`: money into the account (bank's C); `debit`: out (D). A reversal keeps the side of its own movement. */
  readonly side: Side;
  readonly currency: string;
  /** When the bank booked it (YYYY-MM-DD), or null when the file gives only one date (then it is in valueDate). */
  readonly bookingDate: string | null;
  readonly valueDate: string | null;
  /** The bank marked it as a reversal (camt RvslInd, MT940 RC/RD, a BAI2 reversal type code). */
  readonly reversal: boolean;
  /**
   * The bank's own id of the line, unique in the account when present:
   * camt AcctSvcrRef (of the transaction, else of the entry), MT940 `//`
   * reference, BAI2 bank reference, OFX FITID, a PSP's transaction id.
   * Never a placeholder such as `NONREF`: importers map those to null.
   */
  readonly bankReference: string | null;
  /** The payer's end-to-end id (camt EndToEndId, MT940 /EREF/ or ?20 EREF+). */
  readonly endToEndId: string | null;
  /** The account holder's reference (MT940 :61: reference for the account owner, camt InstrId, CSV reference column). */
  readonly customerReference: string | null;
  /** Structured creditor reference (ISO 11649 RF…, camt CdtrRefInf/Ref). */
  readonly creditorReference: string | null;
  /** Unstructured remittance information, joined with single spaces. */
  readonly remittanceInformation: string | null;
  /** Free text of the line (MT940 :86: text, BAI2 88 text, OFX NAME/MEMO, camt AddtlNtryInf). */
  readonly description: string | null;
  readonly counterparty: ParsedCounterparty;
  readonly bankCodes: ParsedBankCodes;
  /** Charges the bank states for this line (camt Chrgs), in the line's currency; null when none are stated. */
  readonly chargesMinor: bigint | null;
  /**
   * Set when the bank booked several transactions as one entry (camt Ntry
   * with several TxDtls, a PSP payout): the entry's id in the file, this
   * line's 0-based index in it, and the entry's size and total.
   */
  readonly batch: { readonly id: string; readonly index: number; readonly size: number; readonly amountMinor: bigint; readonly side: Side } | null;
  /** Format-specific facts kept for the matcher and auditors (e.g. Stripe gross/fee/net, payout id, OFX CHECKNUM). Keys ≤ 64 chars, values ≤ 500. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The line exactly as in the file (`:61:`+`:86:` text, the Ntry XML fragment, the CSV row), for auditors. */
  readonly raw: string;
  readonly location: SourceLocation;
}

/** The account a statement section is about, as the file names it. */
export interface ParsedAccount {
  readonly iban: string | null;
  /** As the file writes it (MT940 :25:, BAI2 03 account number, OFX ACCTID). */
  readonly accountNumber: string | null;
  /** BIC, bank code, routing number or OFX BANKID. */
  readonly bankId: string | null;
  readonly currency: string | null;
  readonly location: SourceLocation;
}

/**
 * A file-level total the file states about itself, and what the importer
 * counted. The statement checks compare them (BAI2 group and file control
 * totals; camt GrpHdr or TxsSummry sums): `declared` vs `computed`.
 */
export interface ParsedControlTotal {
  readonly scope: string;
  readonly declaredMinor: bigint;
  readonly computedMinor: bigint;
  readonly location: SourceLocation;
}

/** One statement (camt Stmt/Rpt/Ntfctn, an MT940 message, a BAI2 account, an OFX STMTRS, a CSV file). */
export interface ParsedStatement {
  readonly format: StatementFormat;
  /** 0-based position of this section in the file. */
  readonly section: number;
  readonly account: ParsedAccount;
  /** The statement's currency: the account's, else the balances', else the lines'. */
  readonly currency: string;
  /** The bank's id of the statement (camt Stmt/Id, MT940 :20:, OFX TRNUID), when given. */
  readonly statementReference: string | null;
  /** camt ElctrncSeqNb / MT940 :28C: statement number / BAI2 group sequence: digits, compared for gaps. */
  readonly sequenceNumber: string | null;
  /** camt LglSeqNb or the MT940 :28C: page after '/'. */
  readonly pageNumber: string | null;
  /** When the bank created it (ISO date-time as written), when given. */
  readonly createdAt: string | null;
  /** The period the statement covers (YYYY-MM-DD, inclusive), from the file or else from its balances' and lines' dates. */
  readonly periodStart: string | null;
  readonly periodEnd: string | null;
  /** Opening booked balance (camt OPBD/PRCD, MT940 :60F:/:60M:, BAI2 010/040, none in OFX). */
  readonly openingBalance: ParsedBalance | null;
  /** Closing booked balance (camt CLBD, MT940 :62F:/:62M:, BAI2 015, OFX LEDGERBAL). */
  readonly closingBalance: ParsedBalance | null;
  /** Closing available balance (camt CLAV, MT940 :64:, BAI2 045, OFX AVAILBAL). */
  readonly availableBalance: ParsedBalance | null;
  /** The intermediate (:60M:/:62M:) or final (:60F:/:62F:) kind of MT940 balances; null elsewhere. */
  readonly balanceKind: "final" | "intermediate" | null;
  readonly controlTotals: readonly ParsedControlTotal[];
  /** Lines in this section (they were yielded before this header). */
  readonly lineCount: number;
  readonly location: SourceLocation;
}

/**
 * What an importer yields, in file order: each section's lines, then the
 * section's header (its closing facts are known only at its end), and after
 * the last section the file's own totals. Bounded memory: an importer never
 * holds more than one line (and one section's header) at a time.
 */
export type StatementItem =
  | { readonly kind: "line"; readonly section: number; readonly line: ParsedLine }
  | { readonly kind: "statement"; readonly statement: ParsedStatement }
  | { readonly kind: "file"; readonly controlTotals: readonly ParsedControlTotal[] };

export const NO_BANK_CODES: ParsedBankCodes = {
  domain: null,
  family: null,
  subFamily: null,
  proprietary: null,
  proprietaryIssuer: null,
  swift: null,
  bai2: null,
  ofx: null,
  psp: null,
};

export const NO_COUNTERPARTY: ParsedCounterparty = { name: null, iban: null, accountNumber: null, bic: null };
