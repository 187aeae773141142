// What the rest of the command side reads of bank accounts, from the log
// (never a read model: a decision must not lag): one account with its
// statements, for an import's decision; a ledger's identifiers, for routing
// a multi-account file. An account counts only when it is registered AND
// listed in its ledger (see service.ts): a registration cut short between
// the two streams leaves an account no reader returns.
import assert from "node:assert/strict";
import { bankAccountStream, ledgerBankAccountsStream, normaliseAccountNumber, normaliseIban, parseReconciliationEvent } from "@trueup/contracts";
import type { BalanceData, BankAccountKind, ReconciliationEvent, StatementFormat, StreamName } from "@trueup/contracts";
import type { EventStore, RecordedEvent } from "@trueup/event-store";
import { StreamNotFoundError } from "@trueup/event-store";
import { INTERIM_FORMATS } from "../checks.ts";
import { BANK_ACCOUNTS_PER_LEDGER_MAX } from "./decider.ts";
import type { LedgerListingState } from "./decider.ts";

export { BankAccountCommandService } from "./service.ts";
export { bankAccountCommandRoutes } from "./routes.ts";
export type { BankAccountCommandRoutesDeps } from "./routes.ts";
export { BANK_ACCOUNTS_PER_LEDGER_MAX } from "./decider.ts";

/** Events read per page of a stream. */
export const BANK_ACCOUNT_READ_PAGE_SIZE = 1_000;

/** One imported statement of an account, as its StatementImported says. */
export interface StatementSummary {
  readonly statementId: string;
  readonly format: StatementFormat;
  readonly periodStart: string | null;
  readonly periodEnd: string | null;
  readonly sequenceNumber: string | null;
  readonly pageNumber: string | null;
  readonly openingBalance: BalanceData | null;
  readonly closingBalance: BalanceData | null;
  /** The file it came from and its section in it: a re-import is the same file and section again. */
  readonly fileSha256: string;
  readonly section: number;
  readonly lineCount: number;
  readonly newLines: number;
  readonly knownLines: number;
  readonly batches: number;
  /** Revision of the StatementImported in the account's stream. */
  readonly revision: bigint;
}

/** A registered and listed bank account, with what its stream says about its statements. */
export interface BankAccountState {
  readonly bankAccountId: string;
  readonly ledgerId: string;
  readonly kind: BankAccountKind;
  readonly name: string;
  /** Normalised (no spaces, upper case), or null. */
  readonly iban: string | null;
  /** As registered (trimmed), or null; compare with normaliseAccountNumber. */
  readonly accountNumber: string | null;
  readonly bankId: string | null;
  readonly currency: string;
  readonly ledgerAccount: string;
  /** The normalised identifiers it holds in its ledger (BankAccountListed). */
  readonly identifiers: readonly string[];
  /** In stream order (the order they were imported, not their periods'). */
  readonly statements: readonly StatementSummary[];
  /** Revision of the last event of `bankaccount-<id>`: the expected revision of the next append to it. */
  readonly revision: bigint;
}

/**
 * The bank account, or undefined when there is none, or it is registered
 * but not listed (not active). Reads the account's whole stream (one
 * StatementImported per statement) and its ledger's listing (at most
 * BANK_ACCOUNTS_PER_LEDGER_MAX events).
 */
export async function readBankAccount(store: EventStore, bankAccountId: string): Promise<BankAccountState | undefined> {
  let registered: Extract<ReconciliationEvent, { type: "BankAccountRegistered" }>["data"] | undefined;
  const statements: StatementSummary[] = [];
  let revision = -1n;
  for await (const { event, recorded } of readEvents(store, bankAccountStream(bankAccountId))) {
    revision = recorded.revision;
    if (event.type === "BankAccountRegistered") {
      assert.ok(registered === undefined, `${recorded.streamName} holds two BankAccountRegistered`);
      registered = event.data;
    } else if (event.type === "StatementImported") {
      statements.push(statementSummaryOf(event.data, recorded.revision));
    }
  }
  if (registered === undefined) return undefined;
  const listing = await readListing(store, registered.ledgerId);
  const identifiers = listing.accounts.get(bankAccountId);
  if (identifiers === undefined) return undefined;
  return { ...registered, identifiers, statements, revision };
}

/** A ledger's active bank accounts by identifier (normalised IBAN or account number): the routing table of a multi-account file. */
export async function readLedgerBankAccounts(store: EventStore, ledgerId: string): Promise<ReadonlyMap<string, string>> {
  return (await readListing(store, ledgerId)).byIdentifier;
}

/**
 * The bank account a file's account section names, in a routing table from
 * readLedgerBankAccounts: by its IBAN first, else by its account number, both
 * normalised (no spaces, upper case). Undefined when it names none of them.
 */
export function routeAccount(table: ReadonlyMap<string, string>, account: { readonly iban: string | null; readonly accountNumber: string | null }): string | undefined {
  const byIban = account.iban === null ? undefined : table.get(normaliseIban(account.iban));
  if (byIban !== undefined) return byIban;
  return account.accountNumber === null ? undefined : table.get(normaliseAccountNumber(account.accountNumber));
}

/**
 * The statement a new one follows: the latest imported by (periodEnd,
 * sequence number), leaving out the same file's same section (on a
 * re-import, a statement is not its own predecessor) and interim reports
 * (camt.052/054, MT942: see INTERIM_FORMATS). Undefined for an account's
 * first statement.
 */
export function previousStatement(statements: readonly StatementSummary[], current: { readonly fileSha256: string; readonly section: number }): StatementSummary | undefined {
  let latest: StatementSummary | undefined;
  for (const statement of statements) {
    if (statement.fileSha256 === current.fileSha256 && statement.section === current.section) continue;
    if (INTERIM_FORMATS.has(statement.format)) continue;
    if (latest === undefined || compareStatements(statement, latest) >= 0) latest = statement;
  }
  return latest;
}

/** Orders by period end (undated first), then by sequence number as a number when both are digits. Ties: the later import wins (caller). */
function compareStatements(a: StatementSummary, b: StatementSummary): number {
  const byEnd = (a.periodEnd ?? "").localeCompare(b.periodEnd ?? "");
  if (byEnd !== 0) return byEnd;
  const digits = /^\d{1,30}$/;
  if (a.sequenceNumber !== null && b.sequenceNumber !== null && digits.test(a.sequenceNumber) && digits.test(b.sequenceNumber)) {
    const diff = BigInt(a.sequenceNumber) - BigInt(b.sequenceNumber);
    return diff > 0n ? 1 : diff < 0n ? -1 : 0;
  }
  return 0;
}

/** A StatementImported as the import decides from it; `revision` is its place in the bank account's stream. */
export function statementSummaryOf(data: Extract<ReconciliationEvent, { type: "StatementImported" }>["data"], revision: bigint): StatementSummary {
  return {
    statementId: data.statementId,
    format: data.format,
    periodStart: data.periodStart,
    periodEnd: data.periodEnd,
    sequenceNumber: data.sequenceNumber,
    pageNumber: data.pageNumber,
    openingBalance: data.openingBalance,
    closingBalance: data.closingBalance,
    fileSha256: data.source.fileSha256,
    section: data.source.section,
    lineCount: data.lineCount,
    newLines: data.newLines,
    knownLines: data.knownLines,
    batches: data.batches,
    revision,
  };
}

/** Folded in place (evolveListing copies its maps per event, for the stream writer's immutable states): linear in the listing. */
async function readListing(store: EventStore, ledgerId: string): Promise<LedgerListingState> {
  const byIdentifier = new Map<string, string>();
  const accounts = new Map<string, readonly string[]>();
  for await (const { event } of readEvents(store, ledgerBankAccountsStream(ledgerId))) {
    if (event.type !== "BankAccountListed") continue;
    for (const identifier of event.data.identifiers) byIdentifier.set(identifier, event.data.bankAccountId);
    accounts.set(event.data.bankAccountId, event.data.identifiers);
  }
  // The decider refuses a listing beyond the limit; more here is a broken invariant.
  assert.ok(accounts.size <= BANK_ACCOUNTS_PER_LEDGER_MAX, `ledger ${ledgerId} lists ${accounts.size} bank accounts`);
  return { byIdentifier, accounts };
}

/** A stream's events, page by page; none for a stream that does not exist. */
async function* readEvents(store: EventStore, stream: StreamName): AsyncGenerator<{ event: ReconciliationEvent; recorded: RecordedEvent }> {
  for (let from = 0n; ; ) {
    let page: RecordedEvent[];
    try {
      page = await store.readStream(stream, { fromRevision: from, maxCount: BANK_ACCOUNT_READ_PAGE_SIZE });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return;
      throw error;
    }
    for (const recorded of page) yield { event: parseReconciliationEvent(recorded), recorded };
    const last = page.at(-1);
    if (last === undefined || page.length < BANK_ACCOUNT_READ_PAGE_SIZE) return;
    from = last.revision + 1n;
  }
}
