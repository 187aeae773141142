// Proves the matching rules decider, given / when / then: each change is the
// next version (1, 2, …) stored as validated JSON; `expectedVersion` refuses
// a change made from a version that is no longer current; the bank account
// must be active, and the write-off account an open account of its ledger,
// in its currency, other than the account's own ledger account, each refusal
// naming the field.
import { describe, expect, it } from "vitest";
import { DEFAULT_MATCHING_RULES, matchingRulesSchema } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import * as decider from "../../src/reconciliation/matching-rules/decider.ts";
import type { BankAccountState } from "../../src/reconciliation/bank-accounts/index.ts";
import type { LedgerState } from "../../src/ledger/decider.ts";

const ACCOUNT: BankAccountState = {
  bankAccountId: "ba1", ledgerId: "l1", kind: "bank", name: "Main", iban: "DE89370400440532013000", accountNumber: null, bankId: null,
  currency: "EUR", ledgerAccount: "1000", identifiers: ["DE89370400440532013000"], statements: [], revision: 1n,
};
const LEDGER: LedgerState = {
  status: "active", ledgerId: "l1", baseCurrency: "EUR", periods: new Set(),
  accounts: new Map([
    ["1000", { type: "asset", currency: null, status: "open" }],
    ["6800", { type: "expense", currency: null, status: "open" }],
    ["6900", { type: "expense", currency: null, status: "closed" }],
    ["6950", { type: "expense", currency: "USD", status: "open" }],
  ]),
};

const withWriteOff = (account: string | null): MatchingRules => matchingRulesSchema.parse({ ...DEFAULT_MATCHING_RULES, writeOffAccount: account });
const set = (rules: MatchingRules, more: Partial<decider.SetMatchingRules> & { expectedVersion?: number } = {}): decider.SetMatchingRules => ({
  type: "SetMatchingRules",
  data: { bankAccountId: "ba1", rules, expectedVersion: more.expectedVersion },
  account: "account" in more ? more.account : ACCOUNT,
  ledger: more.ledger ?? LEDGER,
});
const given = (events: decider.MatchingRulesEvent[]) => events.reduce(decider.evolveMatchingRules, decider.initialMatchingRulesState());
const eventsOf = (decision: decider.Decision): decider.MatchingRulesEvent[] => {
  if (!("events" in decision)) throw new Error(`rejected: ${decision.rejected.code}`);
  return decision.events;
};
const refusal = (decision: decider.Decision) => ("rejected" in decision ? { code: decision.rejected.code, path: decision.rejected.path } : undefined);

describe("the matching rules decider", () => {
  it("sets version 1, then each change as the next version, stored as the JSON of the validated rules", () => {
    const first = eventsOf(decider.decideMatchingRules(set(DEFAULT_MATCHING_RULES), given([])));
    expect(first).toEqual([{ type: "MatchingRulesSet", data: { bankAccountId: "ba1", ledgerId: "l1", version: 1, rules: JSON.parse(JSON.stringify(DEFAULT_MATCHING_RULES)) as unknown } }]);
    const second = eventsOf(decider.decideMatchingRules(set(withWriteOff("6800")), given(first)));
    expect(second[0]?.type === "MatchingRulesSet" && second[0].data.version).toBe(2);
    expect(given([...first, ...second]).version).toBe(2);
    // What is stored reads back as the same rules.
    expect(second[0]?.type === "MatchingRulesSet" && matchingRulesSchema.parse(second[0].data.rules)).toEqual(withWriteOff("6800"));
  });

  it("refuses a change made from a version that is not the current one", () => {
    const first = eventsOf(decider.decideMatchingRules(set(DEFAULT_MATCHING_RULES, { expectedVersion: 0 }), given([])));
    expect(refusal(decider.decideMatchingRules(set(DEFAULT_MATCHING_RULES, { expectedVersion: 0 }), given(first)))).toEqual({ code: "MATCHING_RULES_VERSION_CONFLICT", path: ["expectedVersion"] });
    expect(refusal(decider.decideMatchingRules(set(DEFAULT_MATCHING_RULES, { expectedVersion: 2 }), given(first)))?.code).toBe("MATCHING_RULES_VERSION_CONFLICT");
    expect(eventsOf(decider.decideMatchingRules(set(DEFAULT_MATCHING_RULES, { expectedVersion: 1 }), given(first)))).toHaveLength(1);
  });

  it("refuses an account that is not active, and a write-off account the ledger cannot take", () => {
    expect(refusal(decider.decideMatchingRules(set(DEFAULT_MATCHING_RULES, { account: undefined }), given([])))?.code).toBe("BANK_ACCOUNT_NOT_FOUND");
    const path = ["rules", "writeOffAccount"];
    expect(refusal(decider.decideMatchingRules(set(withWriteOff("7777")), given([])))).toEqual({ code: "ACCOUNT_NOT_FOUND", path });
    expect(refusal(decider.decideMatchingRules(set(withWriteOff("6900")), given([])))).toEqual({ code: "ACCOUNT_CLOSED", path });
    expect(refusal(decider.decideMatchingRules(set(withWriteOff("6950")), given([])))).toEqual({ code: "ACCOUNT_CURRENCY_MISMATCH", path });
    expect(refusal(decider.decideMatchingRules(set(withWriteOff("1000")), given([])))).toEqual({ code: "VALIDATION_FAILED", path });
    expect(refusal(decider.decideMatchingRules(set(withWriteOff("6800"), { ledger: { status: "none" } }), given([])))?.code).toBe("LEDGER_NOT_FOUND");
  });

  it("passes over other events of the stream", () => {
    expect(given([{ type: "Unrelated", data: { type: "Something" } }]).version).toBe(0);
  });
});
