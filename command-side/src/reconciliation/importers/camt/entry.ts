// One camt Ntry (its kept subtree) → its statement lines.
//
// An entry with zero or one TxDtls is one line: the entry's amount (what
// moved on the account), its dates and reference, enriched by the
// transaction's references, parties and remittance. An entry with several
// TxDtls (a batch the bank booked as one amount) is one line per
// transaction, each carrying the entry as its `batch`, so the matcher can
// match the transactions one by one or the batch as a whole. If such a
// batch does not state every transaction's amount it cannot be split
// exactly: it stays one line (money stays exact; the transactions' count is
// in its attributes).
import assert from "node:assert/strict";
import { NO_BANK_CODES, NO_COUNTERPARTY, STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { ParsedBankCodes, ParsedControlTotal, ParsedCounterparty, ParsedLine, Side } from "@trueup/contracts";
import { statementError } from "../shared.ts";
import { positionOf } from "./xml-reader.ts";
import type { XmlElement } from "./xml-reader.ts";
import { all, amountOf, at, booleanAt, choiceDateAt, cut, freeText, identifierAt, nameAt, one, requiredSide, sideAt, textAt, where } from "./fields.ts";
import type { CamtAmount } from "./fields.ts";

export interface EntryFacts {
  readonly amountMinor: bigint;
  readonly side: Side;
  readonly currency: string;
}

export interface EntryResult {
  readonly entry: EntryFacts;
  readonly lines: ParsedLine[];
  /** Set when the entry's transactions, all in its currency, do not add up to it. */
  readonly mismatch: ParsedControlTotal | null;
}

interface Party {
  readonly name: string | null;
  readonly iban: string | null;
  readonly accountNumber: string | null;
  readonly bic: string | null;
}

interface Transaction {
  readonly element: XmlElement;
  /** Its own amount (Amt, else AmtDtls/TxAmt/Amt), as stated. */
  readonly amount: CamtAmount | null;
  readonly amountText: string | null;
  readonly side: Side | null;
  readonly accountServicerReference: string | null;
  readonly endToEndId: string | null;
  readonly instructionId: string | null;
  readonly creditorReference: string | null;
  readonly remittanceInformation: string | null;
  readonly additionalInformation: string | null;
  readonly debtor: Party;
  readonly creditor: Party;
  readonly bankCodes: ParsedBankCodes | null;
  readonly chargesGroup: XmlElement;
  readonly attributes: Record<string, string>;
}

/** Reads a closed Ntry. `source` gives an element's exact text; `scope` names the section (`Stmt[1]`). */
export function readEntry(ntry: XmlElement, options: { source: { sourceOf(element: XmlElement): string }; scope: string }): EntryResult {
  const amountElement = one(ntry, "Amt");
  if (amountElement === null) throw statementError("STATEMENT_MALFORMED", "the entry has no Amt", where(ntry));
  const amount = amountOf(amountElement);
  const entry: EntryFacts = { amountMinor: amount.amountMinor, side: requiredSide(ntry), currency: amount.currency };
  const transactions: Transaction[] = [];
  for (const details of all(ntry, "NtryDtls")) for (const tx of all(details, "TxDtls")) transactions.push(readTransaction(tx, details));
  const common = readCommon(ntry);
  const mismatch = batchMismatch(ntry, entry, transactions, options.scope);
  const split = transactions.length > 1 && transactions.every((tx) => tx.amount !== null);
  if (!split) {
    return { entry, mismatch, lines: [singleLine({ ntry, entry, common, transaction: transactions.length === 1 ? transactions[0] : undefined, transactionCount: transactions.length, raw: options.source.sourceOf(ntry) })] };
  }
  const firstDetails = all(ntry, "NtryDtls")[0];
  assert.ok(firstDetails !== undefined, "a split entry has NtryDtls");
  const head = options.source.sourceOf(ntry).slice(0, firstDetails.start - ntry.start);
  const lines = transactions.map((transaction, index) =>
    batchLine({ ntry, entry, common, transaction, index, size: transactions.length, head, raw: options.source.sourceOf(transaction.element) }),
  );
  return { entry, mismatch, lines };
}

/** What every line of the entry shares. */
interface EntryCommon {
  readonly bookingDate: string | null;
  readonly valueDate: string | null;
  readonly reversal: boolean;
  readonly reference: string | null;
  readonly description: string | null;
  readonly bankCodes: ParsedBankCodes | null;
  readonly attributes: Record<string, string>;
}

function readCommon(ntry: XmlElement): EntryCommon {
  const attributes: Record<string, string> = {};
  // v2 writes the status as text, v3+ as Sts/Cd (or Sts/Prtry).
  put(attributes, "status", textAt(ntry, "Sts") ?? textAt(ntry, "Sts", "Cd") ?? textAt(ntry, "Sts", "Prtry"));
  put(attributes, "entryReference", textAt(ntry, "NtryRef"));
  return {
    bookingDate: choiceDateAt(ntry, "BookgDt"),
    valueDate: choiceDateAt(ntry, "ValDt"),
    reversal: booleanAt(ntry, "RvslInd") ?? false,
    reference: identifierAt(ntry, "AcctSvcrRef"),
    description: freeText(textAt(ntry, "AddtlNtryInf")),
    bankCodes: bankCodesOf(one(ntry, "BkTxCd")),
    attributes,
  };
}

function singleLine(options: { ntry: XmlElement; entry: EntryFacts; common: EntryCommon; transaction: Transaction | undefined; transactionCount: number; raw: string }): ParsedLine {
  const { ntry, entry, common, transaction } = options;
  // The entry's one line may take the entry's own attributes object (no copy): no other line shares it.
  const attributes = transaction === undefined ? common.attributes : Object.assign(common.attributes, transaction.attributes);
  if (options.transactionCount > 1) put(attributes, "transactionCount", String(options.transactionCount));
  if (transaction === undefined) putBatch(attributes, all(ntry, "NtryDtls")[0]);
  if (transaction?.amount != null && (transaction.amount.currency !== entry.currency || transaction.amount.amountMinor !== entry.amountMinor)) {
    put(attributes, "transactionAmount", `${transaction.amount.currency} ${transaction.amountText ?? ""}`);
  }
  const charges = chargesOf(transaction?.chargesGroup ?? ntry, entry.currency, attributes);
  return finish({
    amountMinor: entry.amountMinor,
    side: entry.side,
    currency: entry.currency,
    bookingDate: common.bookingDate,
    valueDate: common.valueDate,
    reversal: common.reversal,
    bankReference: transaction?.accountServicerReference ?? common.reference,
    endToEndId: transaction?.endToEndId ?? null,
    customerReference: transaction?.instructionId ?? null,
    creditorReference: transaction?.creditorReference ?? null,
    remittanceInformation: transaction?.remittanceInformation ?? null,
    description: common.description ?? transaction?.additionalInformation ?? null,
    counterparty: transaction === undefined ? NO_COUNTERPARTY : counterpartyOf(transaction, entry.side, common.reversal),
    bankCodes: transaction?.bankCodes ?? common.bankCodes ?? NO_BANK_CODES,
    chargesMinor: charges ?? (transaction === undefined ? null : chargesOf(ntry, entry.currency, attributes)),
    batch: null,
    attributes,
    raw: options.raw,
    location: where(ntry),
  });
}

function batchLine(options: { ntry: XmlElement; entry: EntryFacts; common: EntryCommon; transaction: Transaction; index: number; size: number; head: string; raw: string }): ParsedLine {
  const { ntry, entry, common, transaction } = options;
  const amount = transaction.amount;
  assert.ok(amount !== null, "a batch is split only when every transaction states its amount");
  const side = transaction.side ?? entry.side;
  const attributes = { ...common.attributes, ...transaction.attributes };
  return finish({
    amountMinor: amount.amountMinor,
    side,
    currency: amount.currency,
    bookingDate: common.bookingDate,
    valueDate: common.valueDate,
    reversal: common.reversal,
    bankReference: batchReference(transaction, common.reference, options.index),
    endToEndId: transaction.endToEndId,
    customerReference: transaction.instructionId,
    creditorReference: transaction.creditorReference,
    remittanceInformation: transaction.remittanceInformation,
    description: common.description ?? transaction.additionalInformation,
    counterparty: counterpartyOf(transaction, side, common.reversal),
    bankCodes: transaction.bankCodes ?? common.bankCodes ?? NO_BANK_CODES,
    chargesMinor: chargesOf(transaction.chargesGroup, amount.currency, attributes),
    batch: { id: common.reference ?? `Ntry[${positionOf(ntry)}]`, index: options.index, size: options.size, amountMinor: entry.amountMinor, side: entry.side },
    attributes,
    // The transaction's own text, after the entry's text up to its NtryDtls
    // (amount, dates, AcctSvcrRef): both exact excerpts of the file, so an
    // auditor sees which entry the transaction was booked in.
    raw: options.head.length + options.raw.length <= STATEMENT_LINE_LIMITS.rawLengthMax ? `${options.head}${options.raw}` : options.raw,
    location: where(transaction.element),
  });
}

/**
 * The transaction's own AcctSvcrRef when it has one distinct from the
 * entry's; else the entry's with the transaction's 1-based position (the
 * entry's reference alone is shared by all its transactions, so it cannot
 * be a line's identity); else none.
 */
function batchReference(transaction: Transaction, entryReference: string | null, index: number): string | null {
  const own = transaction.accountServicerReference;
  if (own !== null && own !== entryReference) return own;
  if (entryReference === null) return null;
  const reference = `${entryReference}/${index + 1}`;
  if (reference.length > STATEMENT_LINE_LIMITS.fieldLengthMax) {
    throw statementError("STATEMENT_MALFORMED", `the entry's AcctSvcrRef is too long to identify its transactions (${STATEMENT_LINE_LIMITS.fieldLengthMax} characters at most)`, where(transaction.element));
  }
  return reference;
}

/** Refuses a line whose source is longer than what is stored: a cut raw would not be the file's text. */
function finish(line: ParsedLine): ParsedLine {
  if (line.raw.length > STATEMENT_LINE_LIMITS.rawLengthMax) {
    throw statementError("STATEMENT_LINE_TOO_LONG", `the line's XML is ${line.raw.length} characters long, more than the ${STATEMENT_LINE_LIMITS.rawLengthMax} stored`, line.location, {
      limit: STATEMENT_LINE_LIMITS.rawLengthMax,
    });
  }
  // Counted without Object.keys: this runs once per line.
  let attributeCount = 0;
  for (const key in line.attributes) if (Object.hasOwn(line.attributes, key)) attributeCount++;
  assert.ok(attributeCount <= STATEMENT_LINE_LIMITS.attributesMax, "camt lines carry a fixed, small set of attributes");
  return line;
}

/**
 * Sum of the transactions in the entry's direction (a credit in a debit
 * batch counts against it), compared with the entry's amount when every
 * transaction states an amount in the entry's currency. A difference is not
 * the importer's to judge: it becomes a control total the checks report.
 */
function batchMismatch(ntry: XmlElement, entry: EntryFacts, transactions: readonly Transaction[], scope: string): ParsedControlTotal | null {
  if (transactions.length === 0) return null;
  let computedMinor = 0n;
  for (const transaction of transactions) {
    if (transaction.amount?.currency !== entry.currency) return null;
    const side = transaction.side ?? entry.side;
    computedMinor += side === entry.side ? transaction.amount.amountMinor : -transaction.amount.amountMinor;
  }
  if (computedMinor === entry.amountMinor) return null;
  return { scope: `${scope}/Ntry[${positionOf(ntry)}]/TxDtls`, declaredMinor: entry.amountMinor, computedMinor, location: where(ntry) };
}

function readTransaction(tx: XmlElement, details: XmlElement): Transaction {
  const attributes: Record<string, string> = {};
  const refs = one(tx, "Refs");
  put(attributes, "transactionId", identifierAt(refs, "TxId"));
  put(attributes, "messageId", identifierAt(refs, "MsgId"));
  put(attributes, "paymentInformationId", identifierAt(refs, "PmtInfId"));
  put(attributes, "mandateId", identifierAt(refs, "MndtId"));
  put(attributes, "chequeNumber", identifierAt(refs, "ChqNb"));
  put(attributes, "uetr", identifierAt(refs, "UETR"));
  put(attributes, "accountOwnerTransactionId", identifierAt(refs, "AcctOwnrTxId"));
  put(attributes, "accountServicerTransactionId", identifierAt(refs, "AcctSvcrTxId"));
  put(attributes, "clearingSystemReference", identifierAt(refs, "ClrSysRef"));
  const proprietary = all(refs, "Prtry").map((ref) => `${textAt(ref, "Tp") ?? ""}:${textAt(ref, "Ref") ?? ""}`);
  put(attributes, "proprietaryReferences", proprietary.length === 0 ? null : proprietary.join(" "));
  putBatch(attributes, details);

  const amountElement = one(tx, "Amt") ?? at(tx, "AmtDtls", "TxAmt", "Amt");
  const instructed = at(tx, "AmtDtls", "InstdAmt", "Amt");
  if (instructed !== null) put(attributes, "instructedAmount", `${amountOf(instructed).currency} ${instructed.text.trim()}`);

  const parties = one(tx, "RltdPties");
  const agents = one(tx, "RltdAgts");
  const debtor = partyOf(parties, agents, { party: "Dbtr", account: "DbtrAcct", agent: "DbtrAgt" });
  const creditor = partyOf(parties, agents, { party: "Cdtr", account: "CdtrAcct", agent: "CdtrAgt" });
  put(attributes, "debtorName", debtor.name);
  put(attributes, "debtorAccount", debtor.iban ?? debtor.accountNumber);
  put(attributes, "creditorName", creditor.name);
  put(attributes, "creditorAccount", creditor.iban ?? creditor.accountNumber);
  put(attributes, "ultimateDebtor", nameAt(parties, "UltmtDbtr", "Nm") ?? nameAt(parties, "UltmtDbtr", "Pty", "Nm"));
  put(attributes, "ultimateCreditor", nameAt(parties, "UltmtCdtr", "Nm") ?? nameAt(parties, "UltmtCdtr", "Pty", "Nm"));
  put(attributes, "returnReason", textAt(tx, "RtrInf", "Rsn", "Cd") ?? textAt(tx, "RtrInf", "Rsn", "Prtry"));

  const remittance = readRemittance(one(tx, "RmtInf"), attributes);
  return {
    element: tx,
    amount: amountElement === null ? null : amountOf(amountElement),
    amountText: amountElement?.text.trim() ?? null,
    side: sideAt(tx),
    accountServicerReference: identifierAt(refs, "AcctSvcrRef"),
    endToEndId: identifierAt(refs, "EndToEndId"),
    instructionId: identifierAt(refs, "InstrId"),
    creditorReference: remittance.creditorReference,
    remittanceInformation: remittance.unstructured,
    additionalInformation: freeText(textAt(tx, "AddtlTxInf")),
    debtor,
    creditor,
    bankCodes: bankCodesOf(one(tx, "BkTxCd")),
    chargesGroup: tx,
    attributes,
  };
}

/** Unstructured lines joined; the first structured creditor reference; the other structured facts as attributes. */
function readRemittance(rmtInf: XmlElement | null, attributes: Record<string, string>): { creditorReference: string | null; unstructured: string | null } {
  const unstructured = freeText(all(rmtInf, "Ustrd").map((line) => line.text).join(" "));
  const references: string[] = [];
  const additional: string[] = [];
  let type: string | null = null;
  for (const block of all(rmtInf, "Strd")) {
    const info = one(block, "CdtrRefInf");
    const reference = identifierAt(info, "Ref");
    if (reference !== null) references.push(reference);
    type ??= textAt(info, "Tp", "CdOrPrtry", "Cd") ?? textAt(info, "Tp", "CdOrPrtry", "Prtry");
    for (const line of all(block, "AddtlRmtInf")) additional.push(line.text);
  }
  put(attributes, "creditorReferenceType", type);
  put(attributes, "otherCreditorReferences", references.length > 1 ? references.slice(1).join(" ") : null);
  put(attributes, "additionalRemittanceInformation", freeText(additional.join(" ")));
  return { creditorReference: references[0] ?? null, unstructured };
}

function partyOf(parties: XmlElement | null, agents: XmlElement | null, names: { party: string; account: string; agent: string }): Party {
  // v2 names the party directly (Dbtr/Nm); v8 wraps it (Dbtr/Pty/Nm).
  const party = one(parties, names.party);
  const id = at(parties, names.account, "Id");
  const institution = at(agents, names.agent, "FinInstnId");
  return {
    name: nameAt(party, "Nm") ?? nameAt(party, "Pty", "Nm"),
    iban: identifierAt(id, "IBAN"),
    accountNumber: identifierAt(id, "Othr", "Id"),
    bic: identifierAt(institution, "BIC") ?? identifierAt(institution, "BICFI"),
  };
}

/**
 * The other party: who paid us for money in, whom we paid for money out. A
 * reversal keeps the original transaction's parties, so the direction that
 * names them is the original's (a reversed credit is booked as a debit, yet
 * its counterparty is still the original debtor).
 */
function counterpartyOf(transaction: Transaction, side: Side, reversal: boolean): ParsedCounterparty {
  const originallyCredit = (side === "credit") !== reversal;
  const party = originallyCredit ? transaction.debtor : transaction.creditor;
  if (party.name === null && party.iban === null && party.accountNumber === null && party.bic === null) return NO_COUNTERPARTY;
  return { name: party.name, iban: party.iban, accountNumber: party.accountNumber, bic: party.bic };
}

function bankCodesOf(bkTxCd: XmlElement | null): ParsedBankCodes | null {
  if (bkTxCd === null) return null;
  const domain = one(bkTxCd, "Domn");
  // Written out rather than spread from NO_BANK_CODES: this runs twice per entry, and a new field fails to compile here.
  const codes: ParsedBankCodes = {
    swift: null,
    bai2: null,
    ofx: null,
    psp: null,
    domain: identifierAt(domain, "Cd"),
    family: identifierAt(domain, "Fmly", "Cd"),
    subFamily: identifierAt(domain, "Fmly", "SubFmlyCd"),
    proprietary: identifierAt(bkTxCd, "Prtry", "Cd"),
    proprietaryIssuer: identifierAt(bkTxCd, "Prtry", "Issr"),
  };
  return codes.domain === null && codes.proprietary === null ? null : codes;
}

/**
 * Charges stated in `parent` (Ntry or TxDtls), in `currency`: v3+ has one
 * Chrgs with TtlChrgsAndTaxAmt or Rcrd/Amt records, v2 repeats Chrgs with
 * an Amt each (and maybe a TtlChrgsAndTaxAmt, the total of all). Charges in
 * another currency cannot be added to this line's: they go to an attribute.
 */
function chargesOf(parent: XmlElement, currency: string, attributes: Record<string, string>): bigint | null {
  const groups = all(parent, "Chrgs");
  if (groups.length === 0) return null;
  const total = groups.map((group) => one(group, "TtlChrgsAndTaxAmt")).find((element) => element !== null);
  const amounts = total !== undefined ? [total] : groups.flatMap((group) => [...all(group, "Amt"), ...all(group, "Rcrd").flatMap((record) => all(record, "Amt"))]);
  let sumMinor: bigint | null = null;
  const foreign: string[] = [];
  for (const element of amounts) {
    const amount = amountOf(element);
    if (amount.currency === currency) sumMinor = (sumMinor ?? 0n) + amount.amountMinor;
    else foreign.push(`${amount.currency} ${element.text.trim()}`);
  }
  put(attributes, "chargesInOtherCurrencies", foreign.length === 0 ? null : foreign.join(" "));
  return sumMinor;
}

/** What NtryDtls/Btch says of the batch (a bank may state only this, without TxDtls). */
function putBatch(attributes: Record<string, string>, details: XmlElement | undefined): void {
  if (details === undefined) return;
  put(attributes, "batchMessageId", identifierAt(details, "Btch", "MsgId"));
  put(attributes, "batchPaymentInformationId", identifierAt(details, "Btch", "PmtInfId"));
  put(attributes, "batchTransactionCount", textAt(details, "Btch", "NbOfTxs"));
}

/** Sets an attribute when there is a value, cut to the stored bound (attributes describe; they never identify a line). */
function put(attributes: Record<string, string>, key: string, value: string | null): void {
  if (value === null || value === "") return;
  attributes[key] = cut(value, STATEMENT_LINE_LIMITS.fieldLengthMax) ?? "";
}
