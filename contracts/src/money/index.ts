// Money module: ISO 4217 table, exact bigint money, and its JSON schemas.
export { currencies, currencyOf, isCurrencyCode, requireCurrency } from "./currencies.ts";
export type { Currency, CurrencyCode, CurrencyExponent } from "./currencies.ts";
export {
  add,
  amountMinorAbsMax,
  checkDecimalFormat,
  compare,
  CurrencyMismatchError,
  currencyCodeSchema,
  decimalLengthMax,
  formatDigits,
  formatMinorUnits,
  formatMoney,
  isZero,
  money,
  moneyAmountString,
  moneySchema,
  negate,
  parseMoney,
  subtract,
  sum,
  unknownCurrencyMessage,
  zero,
} from "./money.ts";
export type { Money, MoneyError, MoneyErrorCode, ParseMoneyResult } from "./money.ts";
export { statementCurrencyOf } from "./historic.ts";
export type { StatementCurrency } from "./historic.ts";
