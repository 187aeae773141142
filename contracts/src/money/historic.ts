// Withdrawn ISO 4217 codes (List Three) that still appear on bank
// statements: archives from before the euro (an MT940 of a German account in
// DEM), and the codes replaced recently. Statement lines may carry them, with
// their minor unit, so an old file imports exactly; ledgers and bank accounts
// keep to the active table (currencies.ts), and the statement checks report
// a historic currency as a currency mismatch rather than guess a rate.
import type { CurrencyExponent } from "./currencies.ts";
import { currencyOf } from "./currencies.ts";

export interface StatementCurrency {
  readonly code: string;
  readonly exponent: CurrencyExponent;
  /** True for a withdrawn code (this table), false for an active one. */
  readonly historic: boolean;
}

const HISTORIC: readonly (readonly [string, CurrencyExponent])[] = [
  // The euro's predecessors, with the minor units they had when withdrawn.
  ["ATS", 2], ["BEF", 0], ["CYP", 2], ["DEM", 2], ["EEK", 2], ["ESP", 0], ["FIM", 2],
  ["FRF", 2], ["GRD", 0], ["IEP", 2], ["ITL", 0], ["LTL", 2], ["LUF", 0], ["LVL", 2],
  ["MTL", 2], ["NLG", 2], ["PTE", 0], ["SIT", 2], ["SKK", 2], ["HRK", 2], ["BGN", 2],
  // Replaced by a new code.
  ["ANG", 2], ["BYR", 0], ["CUC", 2], ["MRO", 2], ["SLL", 2], ["STD", 2], ["VEF", 2], ["ZWL", 2],
];
const historicByCode: ReadonlyMap<string, StatementCurrency> = new Map(HISTORIC.map(([code, exponent]) => [code, { code, exponent, historic: true }]));

/** An active or a withdrawn ISO 4217 code with its minor unit, or undefined. */
export function statementCurrencyOf(code: string): StatementCurrency | undefined {
  const active = currencyOf(code);
  if (active !== undefined) return { code: active.code, exponent: active.exponent, historic: false };
  return historicByCode.get(code);
}
