// The ledger as an hledger journal, so an auditor can check our balances with
// an independent implementation (hledger, ledger-cli). Debits are positive,
// credits negative; amounts are exact decimals in the currency's exponent.
import { formatMoney, money, requireCurrency } from "@trueup/contracts";
import type { EntryRow } from "./reader.ts";

const ACCOUNT_ROOTS: Readonly<Record<string, string>> = {
  asset: "assets",
  liability: "liabilities",
  equity: "equity",
  revenue: "revenue",
  expense: "expenses",
};

/** hledger account name for an account: `<type root>:<code>`. */
export function hledgerAccount(type: string, code: string): string {
  return `${ACCOUNT_ROOTS[type] ?? "unknown"}:${code}`;
}

/** One line of text: hledger descriptions and comments end at a newline or at ';' / '|' in some positions. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, " ").replace(/[;|]/g, ",").trim();
}

export function hledgerHeader(ledgerName: string, currencies: readonly string[]): string {
  const declarations = currencies.map((c) => {
    const exponent = requireCurrency(c).exponent;
    // hledger wants a decimal mark even with no decimals ("1000.").
    return `commodity ${c} 1000.${"0".repeat(exponent)}\n`;
  });
  return `; Trueup ledger export: ${oneLine(ledgerName)}\n${declarations.join("")}\n`;
}

export function hledgerEntry(entry: EntryRow, typeOf: (code: string) => string): string {
  const code = entry.externalReference === null ? "" : ` (${oneLine(entry.externalReference).replace(/[()]/g, "")})`;
  const head = `${entry.effectiveDate}${code} ${oneLine(entry.description)}\n    ; entry:${entry.entryId}${entry.reverses === null ? "" : `, reverses:${entry.reverses}`}\n`;
  const postings = entry.lines.map((line) => {
    const amount = formatMoney(money(BigInt(line.amountMinor) * (line.side === "debit" ? 1n : -1n), requireCurrency(line.currency).code));
    return `    ${hledgerAccount(typeOf(line.accountCode), line.accountCode)}  ${line.currency} ${amount}\n`;
  });
  return `${head}${postings.join("")}\n`;
}
