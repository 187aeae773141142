// Given / when / then over the bank accounts' deciders (pure: past events, a
// command, the events or the refusal). Proves: an id is claimed once,
// whichever ledger asks; an identifier (IBAN or account number, one
// namespace) is listed for one account per ledger, and the refusal names the
// holder and the field; the listing is bounded; the ledger account is
// checked against the ledger's own events (unknown ledger or account, closed,
// restricted to another currency); events the registration does not depend on
// (statements imported) leave its state as it was.
import { describe, expect, it } from "vitest";
import { bankAccountIdentifiers, registerBankAccountBody } from "@trueup/contracts";
import type { LedgerEvent } from "@trueup/contracts";
import * as d from "../../src/reconciliation/bank-accounts/decider.ts";
import type { BankAccountEvent, Decision } from "../../src/reconciliation/bank-accounts/decider.ts";
import * as ledger from "../../src/ledger/decider.ts";

const account = (bankAccountId: string, ledgerId = "L1") => ({
  bankAccountId,
  ledgerId,
  kind: "bank" as const,
  name: "Main",
  iban: "DE89370400440532013000",
  accountNumber: null,
  bankId: null,
  currency: "EUR",
  ledgerAccount: "1000",
});
const registered = (bankAccountId: string, ledgerId = "L1"): BankAccountEvent => ({ type: "BankAccountRegistered", data: account(bankAccountId, ledgerId) });
const listed = (bankAccountId: string, identifiers: string[]): BankAccountEvent => ({ type: "BankAccountListed", data: { ledgerId: "L1", bankAccountId, identifiers } });
const listing = (...events: BankAccountEvent[]) => events.reduce(d.evolveListing, d.initialListingState());
const list = (bankAccountId: string, identifiers: string[], ibanOf = "DE89370400440532013000"): d.ListBankAccount => ({
  type: "ListBankAccount",
  data: { ledgerId: "L1", bankAccountId, identifiers },
  fieldOf: (identifier) => (identifier === ibanOf ? "iban" : "accountNumber"),
});

function refusal(decision: Decision) {
  if (!("rejected" in decision)) throw new Error(`expected a refusal, got ${JSON.stringify(decision.events)}`);
  return decision.rejected;
}

describe("bank account registration (bankaccount-<id>)", () => {
  it("given no stream, when registered, then BankAccountRegistered", () => {
    const decision = d.decideRegistration({ type: "RegisterBankAccount", data: account("B1") }, d.initialBankAccountState());
    expect(decision).toEqual({ events: [registered("B1")] });
  });

  it("given the id registered in this or another ledger, then BANK_ACCOUNT_ALREADY_EXISTS at bankAccountId", () => {
    const here = [registered("B1")].reduce(d.evolveBankAccount, d.initialBankAccountState());
    const error = refusal(d.decideRegistration({ type: "RegisterBankAccount", data: account("B1") }, here));
    expect(error).toMatchObject({ code: "BANK_ACCOUNT_ALREADY_EXISTS", path: ["bankAccountId"], message: "bank account B1 exists in this ledger" });
    const elsewhere = [registered("B1", "L2")].reduce(d.evolveBankAccount, d.initialBankAccountState());
    expect(refusal(d.decideRegistration({ type: "RegisterBankAccount", data: account("B1") }, elsewhere)).message).toBe("bank account B1 exists in another ledger");
  });

  it("statements imported later do not change what a registration decides", () => {
    const state = [registered("B1"), { type: "Unrelated", data: { type: "StatementImported" } } as const].reduce(d.evolveBankAccount, d.initialBankAccountState());
    expect(state).toEqual({ status: "registered", account: account("B1") });
  });
});

describe("the ledger's listing (bankaccounts-<ledger>)", () => {
  it("given an empty listing, when listed, then BankAccountListed; the listing maps each identifier to the account", () => {
    const decision = d.decideListing(list("B1", ["DE89370400440532013000", "0532013000"]), listing());
    expect(decision).toEqual({ events: [listed("B1", ["DE89370400440532013000", "0532013000"])] });
    const state = listing(listed("B1", ["DE89370400440532013000", "0532013000"]));
    expect([...state.byIdentifier]).toEqual([["DE89370400440532013000", "B1"], ["0532013000", "B1"]]);
  });

  it("given an identifier held by another account, then BANK_ACCOUNT_IDENTIFIER_TAKEN naming the holder, at the field it came from", () => {
    const state = listing(listed("B1", ["DE89370400440532013000"]), listed("B2", ["0532013000"]));
    const byIban = refusal(d.decideListing(list("B3", ["DE89370400440532013000"]), state));
    expect(byIban).toMatchObject({ code: "BANK_ACCOUNT_IDENTIFIER_TAKEN", path: ["iban"], detail: { identifier: "DE89370400440532013000", bankAccountId: "B1" } });
    const byNumber = refusal(d.decideListing(list("B3", ["GB82WEST12345698765432", "0532013000"], "GB82WEST12345698765432"), state));
    expect(byNumber).toMatchObject({ code: "BANK_ACCOUNT_IDENTIFIER_TAKEN", path: ["accountNumber"], detail: { identifier: "0532013000", bankAccountId: "B2" } });
  });

  it("given the account listed by another command, then BANK_ACCOUNT_ALREADY_EXISTS", () => {
    const state = listing(listed("B1", ["X1"]));
    expect(refusal(d.decideListing(list("B1", ["X2"]), state)).code).toBe("BANK_ACCOUNT_ALREADY_EXISTS");
  });

  it("given BANK_ACCOUNTS_PER_LEDGER_MAX accounts, the next one is refused BANK_ACCOUNTS_LIMIT_REACHED; one below the bound is listed", () => {
    const events = Array.from({ length: d.BANK_ACCOUNTS_PER_LEDGER_MAX - 1 }, (_, i) => listed(`B${i}`, [`N${i}`]));
    const below = listing(...events);
    expect("events" in d.decideListing(list("LAST", ["NLAST"]), below)).toBe(true);
    const full = d.evolveListing(below, listed("FULL", ["NFULL"]));
    const error = refusal(d.decideListing(list("MORE", ["NMORE"]), full));
    expect(error).toMatchObject({ code: "BANK_ACCOUNTS_LIMIT_REACHED" });
    expect(error.message).toContain(String(d.BANK_ACCOUNTS_PER_LEDGER_MAX));
  });

  it("identifiers of one account: IBAN and account number normalised, the same one once", () => {
    expect(bankAccountIdentifiers({ iban: "de89 3704 0044 0532 0130 00", accountNumber: "0532 013000" })).toEqual(["DE89370400440532013000", "0532013000"]);
    expect(bankAccountIdentifiers({ iban: "DE89370400440532013000", accountNumber: "de89370400440532013000" })).toEqual(["DE89370400440532013000"]);
    expect(bankAccountIdentifiers({ iban: null, accountNumber: null })).toEqual([]);
  });
});

describe("the ledger account, from the ledger's events", () => {
  const created: LedgerEvent = { type: "LedgerCreated", data: { ledgerId: "L1", name: "Books", baseCurrency: "EUR" } };
  const opened = (code: string, currency: string | null): LedgerEvent => ({ type: "AccountOpened", data: { ledgerId: "L1", code, name: code, type: "asset", currency } });
  const books = [created, opened("1000", "EUR"), opened("1010", null), opened("1020", "USD"), opened("1030", null), { type: "AccountClosed", data: { ledgerId: "L1", code: "1030" } } as LedgerEvent].reduce(
    ledger.evolveLedger,
    ledger.initialLedgerState(),
  );
  const problem = (ledgerAccount: string, currency = "EUR", state = books) => d.ledgerAccountProblem(state, { ledgerId: "L1", ledgerAccount, currency });

  it("an open account in the currency, or unrestricted, is fine", () => {
    expect(problem("1000")).toBeUndefined();
    expect(problem("1010", "JPY")).toBeUndefined();
    expect(problem("1020", "USD")).toBeUndefined();
  });

  it("refuses an unknown ledger, an unknown or closed account, and an account restricted to another currency", () => {
    expect(problem("1000", "EUR", ledger.initialLedgerState())?.code).toBe("LEDGER_NOT_FOUND");
    expect(problem("9999")).toMatchObject({ code: "ACCOUNT_NOT_FOUND", path: ["ledgerAccount"] });
    expect(problem("1030")).toMatchObject({ code: "ACCOUNT_CLOSED", path: ["ledgerAccount"] });
    expect(problem("1020")).toMatchObject({ code: "ACCOUNT_CURRENCY_MISMATCH", path: ["currency"], message: "account 1020 takes only USD; the bank account is in EUR" });
  });
});

describe("the request body", () => {
  it("normalises the IBAN, trims the account number, and needs one of them", () => {
    const parsed = registerBankAccountBody.parse({ kind: "bank", name: " Main ", iban: "de89 3704 0044 0532 0130 00", accountNumber: " 0532 013000 ", currency: "EUR", ledgerAccount: "1000" });
    expect(parsed).toMatchObject({ name: "Main", iban: "DE89370400440532013000", accountNumber: "0532 013000" });
    const neither = registerBankAccountBody.safeParse({ kind: "bank", name: "Main", currency: "EUR", ledgerAccount: "1000" });
    expect(neither.success).toBe(false);
    expect(neither.error?.issues[0]).toMatchObject({ path: ["iban"], params: { code: "VALIDATION_FAILED" } });
  });

  it("refuses an account number beyond its bound or with control characters, and a name with NUL", () => {
    const base = { kind: "bank", name: "Main", currency: "EUR", ledgerAccount: "1000" };
    expect(registerBankAccountBody.safeParse({ ...base, accountNumber: "1".repeat(64) }).success).toBe(true);
    expect(registerBankAccountBody.safeParse({ ...base, accountNumber: "1".repeat(65) }).success).toBe(false);
    expect(registerBankAccountBody.safeParse({ ...base, accountNumber: "12\n34" }).success).toBe(false);
    expect(registerBankAccountBody.safeParse({ ...base, accountNumber: "1234", name: "a\u0000b" }).success).toBe(false);
  });
});
