// Builders for the matching engine's tests: items with every field at a
// neutral default, amounts written as decimals ("100.00") and parsed to
// minor units exactly, rules through the public schema (so its defaults and
// checks apply).
import { matchingRulesSchema, parseMoney } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import type { ExternalItem, InternalItem } from "../../src/reconciliation/matching/index.ts";

export function minor(decimal: string, currency = "EUR"): bigint {
  const parsed = parseMoney(decimal, currency);
  if (!parsed.ok) throw new Error(`bad amount in a test: ${decimal}`);
  return parsed.value.amountMinor;
}

export function ext(id: string, amount: string, date: string, more: Partial<ExternalItem> = {}): ExternalItem {
  return {
    id,
    amountMinor: minor(amount),
    currency: "EUR",
    bookingDate: date,
    valueDate: date,
    endToEndId: null,
    bankReference: null,
    customerReference: null,
    creditorReference: null,
    remittanceInformation: null,
    description: null,
    counterpartyName: null,
    counterpartyIban: null,
    ...more,
  };
}

export function int(id: string, amount: string, date: string, more: Partial<InternalItem> = {}): InternalItem {
  return { id, amountMinor: minor(amount), currency: "EUR", date, reference: null, description: null, counterpartyName: null, counterpartyIban: null, contraAccounts: [], ...more };
}

export function rules(input: unknown): MatchingRules {
  return matchingRulesSchema.parse(input);
}

/** Reference, then amount and date, then groups: the default rules with tolerance and partials switched on. */
export const ALL_RULES = rules({
  rules: [
    { kind: "reference", id: "ref", fields: ["endToEndId", "bankReference", "customerReference", "creditorReference", "invoiceNumber"], invoicePattern: "INV-?(\\d{4,10})", dateWindowDays: 10, allowTolerance: true, allowPartial: true },
    { kind: "amountDate", id: "amount-date", dateWindowDays: 3, nameSimilarityMin: 500, allowTolerance: true },
    { kind: "group", id: "group", shapes: ["1:N", "N:1", "N:M"], dateWindowDays: 3, groupSizeMax: 4 },
  ],
  tolerance: { absoluteMinor: "500" },
  writeOffAccount: "6800",
});
