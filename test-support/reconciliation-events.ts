// Test support: writes real reconciliation events (the shapes of
// contracts/reconciliation, each checked against its schema first) to an
// event store, in the streams the command side uses, without going through
// the command side: bank accounts registered and listed, statements as line
// batches then their StatementImported. Every helper returns the position of
// what it appended last.
import { createHash } from "node:crypto";
import {
  STATEMENT_LINES_PER_EVENT_MAX, bankAccountStream, ledgerBankAccountsStream, newEventId, reconciliationEventSchemas, statementStream,
} from "@trueup/contracts";
import type { BalanceData, EventMetadata, JsonValue, ReconciliationEventType, StatementLineData } from "@trueup/contracts";
import type { EventStore, NewEvent, Position } from "@trueup/event-store";

type Data<T extends ReconciliationEventType> = ReturnType<(typeof reconciliationEventSchemas)[T]["parse"]>;
export type StatementImportedData = Data<"StatementImported">;

const metadata: EventMetadata = {
  actor: "user:test",
  correlationId: "corr-1",
  causationId: "cause-1",
  commandId: "cmd-1",
  occurredAt: "2026-01-01T00:00:00.000Z",
};

/** An event of `type`, its data parsed by the contracts' schema first (a fixture must not write what the log would refuse). */
export function reconciliationEvent<T extends ReconciliationEventType>(type: T, data: Data<T>): NewEvent {
  reconciliationEventSchemas[type].parse(data);
  return { eventId: newEventId(), type, schemaVersion: 1, data: data as unknown as JsonValue, metadata };
}

/** A deterministic lowercase UUID from a label, so tests can name statements. */
export function uuidOf(label: string): string {
  const h = createHash("sha256").update(label).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A statement line with every field set from `n`, overridable. */
export function lineData(n: number, overrides: Partial<StatementLineData> = {}): StatementLineData {
  const credit = n % 3 !== 0;
  return {
    lineId: `ref:REF${n}#1`,
    lineNumber: n,
    amountMinor: String(1000 + n),
    side: credit ? "credit" : "debit",
    currency: "EUR",
    bookingDate: `2026-01-${String(1 + (n % 28)).padStart(2, "0")}`,
    valueDate: `2026-01-${String(1 + ((n + 1) % 28)).padStart(2, "0")}`,
    reversal: n % 17 === 0,
    bankReference: `REF${n}`,
    endToEndId: `E2E-${n}`,
    customerReference: null,
    creditorReference: n % 5 === 0 ? `RF18539007547034${n}` : null,
    remittanceInformation: `Invoice ${n}`,
    description: `Payment ${n}`,
    counterparty: { name: `Customer ${n}`, iban: "DE89370400440532013000", accountNumber: null, bic: "COBADEFFXXX" },
    bankCodes: { domain: "PMNT", family: "RCDT", subFamily: "ESCT", proprietary: null, proprietaryIssuer: null, swift: null, bai2: null, ofx: null, psp: null },
    chargesMinor: n % 7 === 0 ? "15" : null,
    batch: null,
    attributes: { n: String(n) },
    raw: `<Ntry><Amt Ccy="EUR">${n}</Amt></Ntry>`,
    location: { line: 10 * n, element: `/Document/BkToCstmrStmt/Stmt[1]/Ntry[${n}]` },
    ...overrides,
  };
}

export function balanceData(amountMinor: string, side: "debit" | "credit" = "credit", date: string | null = "2026-01-31", currency = "EUR"): BalanceData {
  return { amountMinor, side, currency, date };
}

export interface BankAccountSpec {
  readonly bankAccountId: string;
  readonly ledgerId: string;
  readonly currency?: string;
  readonly iban?: string | null;
  readonly accountNumber?: string | null;
  /** Default true: registered and listed; false leaves it registered but unlisted (not active). */
  readonly listed?: boolean;
}

export async function registerBankAccount(store: EventStore, spec: BankAccountSpec): Promise<Position> {
  const iban = spec.iban === undefined ? "DE89370400440532013000" : spec.iban;
  const accountNumber = spec.accountNumber ?? null;
  const registered = reconciliationEvent("BankAccountRegistered", {
    bankAccountId: spec.bankAccountId, ledgerId: spec.ledgerId, kind: "bank", name: `Account ${spec.bankAccountId}`,
    iban, accountNumber, bankId: "COBADEFFXXX", currency: spec.currency ?? "EUR", ledgerAccount: "1000",
  });
  let position = (await store.append(bankAccountStream(spec.bankAccountId), [registered], { expectedRevision: "any" })).position;
  if (spec.listed !== false) {
    const identifiers = [iban, accountNumber].filter((x): x is string => x !== null);
    const listed = reconciliationEvent("BankAccountListed", { ledgerId: spec.ledgerId, bankAccountId: spec.bankAccountId, identifiers: identifiers.length > 0 ? identifiers : [spec.bankAccountId] });
    position = (await store.append(ledgerBankAccountsStream(spec.ledgerId), [listed], { expectedRevision: "any" })).position;
  }
  return position;
}

export interface StatementSpec {
  readonly statementId: string;
  readonly bankAccountId: string;
  readonly ledgerId: string;
  readonly lines: readonly StatementLineData[];
  /** Lines per StatementLinesRecorded (default the contracts' maximum, 500). */
  readonly linesPerBatch?: number;
  /** Default true; false writes the line batches only (a crashed import). */
  readonly commit?: boolean;
  readonly header?: Partial<StatementImportedData>;
}

/** The StatementImported of `spec`, totals and counts computed from its lines. */
export function statementImported(spec: StatementSpec): StatementImportedData {
  const perBatch = spec.linesPerBatch ?? STATEMENT_LINES_PER_EVENT_MAX;
  let creditsMinor = 0n;
  let debitsMinor = 0n;
  let credits = 0;
  for (const l of spec.lines) {
    if (l.side === "credit") {
      creditsMinor += BigInt(l.amountMinor);
      credits += 1;
    } else debitsMinor += BigInt(l.amountMinor);
  }
  return {
    statementId: spec.statementId,
    bankAccountId: spec.bankAccountId,
    ledgerId: spec.ledgerId,
    format: "camt.053",
    source: { fileSha256: createHash("sha256").update(spec.statementId).digest("hex"), fileBytes: 1234, fileName: "statement.xml", encoding: "UTF-8", section: 0 },
    account: { iban: "DE89370400440532013000", accountNumber: null, bankId: null },
    currency: "EUR",
    statementReference: `STMT-${spec.statementId.slice(0, 8)}`,
    sequenceNumber: "1",
    pageNumber: null,
    createdAt: "2026-02-01T08:00:00",
    periodStart: "2026-01-01",
    periodEnd: "2026-01-31",
    openingBalance: balanceData("100000", "credit", "2026-01-01"),
    closingBalance: balanceData((100000n + creditsMinor - debitsMinor).toString(), "credit", "2026-01-31"),
    availableBalance: null,
    lineCount: spec.lines.length,
    newLines: spec.lines.length,
    knownLines: 0,
    batches: Math.ceil(spec.lines.length / perBatch),
    totals: { creditsMinor: creditsMinor.toString(), debitsMinor: debitsMinor.toString(), credits, debits: spec.lines.length - credits },
    checks: [{ check: "balance", status: "passed", code: null, message: "opening + credits - debits = closing", expected: null, actual: null, location: null }],
    acceptedWithFailedChecks: false,
    ...spec.header,
  };
}

/** Appends the statement's line batches, then (unless commit is false) its StatementImported. */
export async function importStatement(store: EventStore, spec: StatementSpec): Promise<Position> {
  const perBatch = spec.linesPerBatch ?? STATEMENT_LINES_PER_EVENT_MAX;
  let position: Position | undefined;
  for (let batchIndex = 0; batchIndex * perBatch < spec.lines.length; batchIndex++) {
    const lines = spec.lines.slice(batchIndex * perBatch, (batchIndex + 1) * perBatch);
    const event = reconciliationEvent("StatementLinesRecorded", { statementId: spec.statementId, bankAccountId: spec.bankAccountId, batchIndex, lines: [...lines] });
    position = (await store.append(statementStream(spec.statementId), [event], { expectedRevision: batchIndex === 0 ? "no-stream" : BigInt(batchIndex - 1) })).position;
  }
  if (spec.commit !== false) position = await commitStatement(store, spec);
  if (position === undefined) throw new Error("importStatement wrote nothing (no lines and commit false)");
  return position;
}

/** Appends only the statement's StatementImported (its batches were written before, e.g. with commit false). */
export async function commitStatement(store: EventStore, spec: StatementSpec): Promise<Position> {
  const imported = reconciliationEvent("StatementImported", statementImported(spec));
  return (await store.append(bankAccountStream(spec.bankAccountId), [imported], { expectedRevision: "any" })).position;
}
