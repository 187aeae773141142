// Bank accounts' deciders: plain functions, no I/O. Two streams, two small
// state machines (see service.ts for why a registration writes them in this
// order):
//   bankaccount-<id>        the account itself: registered once, whatever
//                           the ledger (the stream's no-stream expectation is
//                           the global claim of the id); then the statements
//                           imported to it (import pipeline)
//   bankaccounts-<ledger>   the ledger's listing: which account holds which
//                           identifier (IBAN, account number), unique per
//                           ledger by this one stream's expected revision
import { TrueupError, parseReconciliationEvent } from "@trueup/contracts";
import type { LedgerState } from "../../ledger/decider.ts";
import type { Decision as GenericDecision } from "../../decision.ts";
import type { ReconciliationEvent } from "@trueup/contracts";

/**
 * The events these deciders write, and a stand-in for every other event of
 * their streams (the StatementImported of imports): the registration does
 * not depend on them, so they are folded as "unrelated" rather than parsed
 * into a state they do not change.
 */
export type BankAccountEvent =
  | Extract<ReconciliationEvent, { type: "BankAccountRegistered" | "BankAccountListed" }>
  | { readonly type: "Unrelated"; readonly data: { readonly type: string } };

export type Decision = GenericDecision<BankAccountEvent>;

type Registered = Extract<ReconciliationEvent, { type: "BankAccountRegistered" }>["data"];
type Listed = Extract<ReconciliationEvent, { type: "BankAccountListed" }>["data"];

/** Parses a stored event of a bank account stream or a listing (through the context's upcasters). */
export function parseBankAccountEvent(stored: Parameters<typeof parseReconciliationEvent>[0]): BankAccountEvent {
  const event = parseReconciliationEvent(stored);
  return event.type === "BankAccountRegistered" || event.type === "BankAccountListed" ? event : { type: "Unrelated", data: { type: event.type } };
}

// --- bankaccount-<id> --------------------------------------------------------

/** What a registration needs to know of the account's own stream: whether the id is claimed. */
export type BankAccountStreamState = { readonly status: "none" } | { readonly status: "registered"; readonly account: Registered };

export const initialBankAccountState = (): BankAccountStreamState => ({ status: "none" });

export function evolveBankAccount(state: BankAccountStreamState, event: BankAccountEvent): BankAccountStreamState {
  // StatementImported and the rest do not change what a registration decides.
  return event.type === "BankAccountRegistered" ? { status: "registered", account: event.data } : state;
}

export interface RegisterBankAccount {
  readonly type: "RegisterBankAccount";
  readonly data: Registered;
}

/** Claims the id. The same command again never gets here: the stream writer answers it as a replay. */
export function decideRegistration(command: RegisterBankAccount, state: BankAccountStreamState): Decision {
  if (state.status === "registered") {
    const where = state.account.ledgerId === command.data.ledgerId ? "in this ledger" : "in another ledger";
    return { rejected: new TrueupError("BANK_ACCOUNT_ALREADY_EXISTS", `bank account ${command.data.bankAccountId} exists ${where}`, { path: ["bankAccountId"] }) };
  }
  return { events: [{ type: "BankAccountRegistered", data: command.data }] };
}

// --- bankaccounts-<ledger> ---------------------------------------------------

export interface LedgerListingState {
  /** Normalised identifier → the bank account holding it. */
  readonly byIdentifier: ReadonlyMap<string, string>;
  /** Listed bank accounts → their identifiers. */
  readonly accounts: ReadonlyMap<string, readonly string[]>;
}

/**
 * Bank accounts per ledger. Every import reads its ledger's listing (the
 * account must be listed to be active), and the stream writer folds it into
 * immutable maps (a copy per event, so a first load is quadratic: about
 * 0.3 s at this bound, once per process), so its length is a cost of every
 * registration and import: bounded here, refused with
 * BANK_ACCOUNTS_LIMIT_REACHED. Generous for one set of books (banks and
 * PSPs); a marketplace with an account per merchant needs a ledger per
 * merchant group, or an index that is not one stream.
 */
export const BANK_ACCOUNTS_PER_LEDGER_MAX = 1_000;

export const initialListingState = (): LedgerListingState => ({ byIdentifier: new Map(), accounts: new Map() });

export function evolveListing(state: LedgerListingState, event: BankAccountEvent): LedgerListingState {
  if (event.type !== "BankAccountListed") return state;
  const byIdentifier = new Map(state.byIdentifier);
  for (const identifier of event.data.identifiers) byIdentifier.set(identifier, event.data.bankAccountId);
  const accounts = new Map(state.accounts).set(event.data.bankAccountId, event.data.identifiers);
  return { byIdentifier, accounts };
}

export interface ListBankAccount {
  readonly type: "ListBankAccount";
  readonly data: Listed;
  /** Where each identifier came from in the request, for the refusal's path. */
  readonly fieldOf: (identifier: string) => "iban" | "accountNumber";
}

/** Lists the account with its identifiers, unless one is another account's (or the id is listed by another command). */
export function decideListing(command: ListBankAccount, state: LedgerListingState): Decision {
  const { bankAccountId, identifiers, ledgerId } = command.data;
  if (state.accounts.has(bankAccountId)) {
    return { rejected: new TrueupError("BANK_ACCOUNT_ALREADY_EXISTS", `bank account ${bankAccountId} exists in ledger ${ledgerId}`, { path: ["bankAccountId"] }) };
  }
  if (state.accounts.size >= BANK_ACCOUNTS_PER_LEDGER_MAX) {
    return { rejected: new TrueupError("BANK_ACCOUNTS_LIMIT_REACHED", `ledger ${ledgerId} has ${BANK_ACCOUNTS_PER_LEDGER_MAX} bank accounts, the most allowed`) };
  }
  for (const identifier of identifiers) {
    const holder = state.byIdentifier.get(identifier);
    if (holder === undefined) continue;
    const field = command.fieldOf(identifier);
    return {
      rejected: new TrueupError("BANK_ACCOUNT_IDENTIFIER_TAKEN", `${field === "iban" ? "IBAN" : "account number"} ${identifier} is bank account ${holder}'s in ledger ${ledgerId}`, {
        path: [field],
        detail: { identifier, bankAccountId: holder },
      }),
    };
  }
  return { events: [{ type: "BankAccountListed", data: command.data }] };
}

// --- the ledger, as read for a registration ------------------------------------

/**
 * Why a bank account cannot be linked to `ledgerAccount` of this ledger, or
 * undefined when it can: the ledger exists, the account is open, and takes
 * the bank account's currency if it is restricted to one.
 */
export function ledgerAccountProblem(ledger: LedgerState, options: { readonly ledgerId: string; readonly ledgerAccount: string; readonly currency: string }): TrueupError | undefined {
  const { ledgerId, ledgerAccount, currency } = options;
  if (ledger.status !== "active") return new TrueupError("LEDGER_NOT_FOUND", `no ledger ${ledgerId}`);
  const account = ledger.accounts.get(ledgerAccount);
  if (account === undefined) return new TrueupError("ACCOUNT_NOT_FOUND", `no account ${ledgerAccount} in ledger ${ledgerId}`, { path: ["ledgerAccount"] });
  if (account.status === "closed") return new TrueupError("ACCOUNT_CLOSED", `account ${ledgerAccount} of ledger ${ledgerId} is closed`, { path: ["ledgerAccount"] });
  if (account.currency !== null && account.currency !== currency) {
    return new TrueupError("ACCOUNT_CURRENCY_MISMATCH", `account ${ledgerAccount} takes only ${account.currency}; the bank account is in ${currency}`, { path: ["currency"] });
  }
  return undefined;
}
