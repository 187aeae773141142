// What the MT940 tests share: feeding text to the importer in chunks of a
// chosen size, catching its located error, and reading the wolph/mt940
// `*.expected.yml` dumps (python-tagged YAML) with a few regular
// expressions, since only numbers, dates and references are compared.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TrueupError } from "@trueup/contracts";
import type { ParsedLine, ParsedStatement, StatementFormat, StatementItem } from "@trueup/contracts";
import { IMPORT_LIMITS_DEFAULT } from "../../src/reconciliation/importers/index.ts";
import type { ImportLimits } from "../../src/reconciliation/importers/index.ts";
import { mt940Importer } from "../../src/reconciliation/importers/mt940/index.ts";

export const FIXTURES = fileURLToPath(new URL("../../../test-support/fixtures/statements/mt940/", import.meta.url));

export function fixture(name: string): string {
  return readFileSync(FIXTURES + name, "utf8");
}

export async function* chunked(text: string, size: number): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

export interface Parsed {
  readonly items: StatementItem[];
  readonly lines: ParsedLine[];
  readonly statements: ParsedStatement[];
}

export async function parse(text: string, options: { chunkSize?: number; format?: StatementFormat; limits?: Partial<ImportLimits> } = {}): Promise<Parsed> {
  const items: StatementItem[] = [];
  const limits = { ...IMPORT_LIMITS_DEFAULT, ...options.limits };
  for await (const item of mt940Importer.parse(chunked(text, options.chunkSize ?? 1 << 20), { format: options.format ?? "mt940", limits })) items.push(item);
  return {
    items,
    lines: items.flatMap((item) => (item.kind === "line" ? [item.line] : [])),
    statements: items.flatMap((item) => (item.kind === "statement" ? [item.statement] : [])),
  };
}

/** The TrueupError parse throws (a test fails if it throws anything else or nothing). */
export async function parseError(text: string, options: Parameters<typeof parse>[1] = {}): Promise<TrueupError> {
  try {
    await parse(text, options);
  } catch (error) {
    if (error instanceof TrueupError) return error;
    throw error;
  }
  throw new Error("expected the import to fail");
}

export function locationOf(error: TrueupError): unknown {
  return error.detail?.location;
}

/** Items as JSON (bigints as strings), to compare two parses exactly. */
export function itemsJson(items: readonly StatementItem[]): string {
  return JSON.stringify(items, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value));
}

export interface ExpectedTransaction {
  /** Signed decimal as wolph/mt940 writes it: negative for D (wolph keeps RC positive). */
  readonly amount: string;
  readonly currency: string;
  readonly status: string;
  readonly fundsCode: string | null;
  readonly id: string;
  readonly bankReference: string | null;
  /** Undefined where wolph wrote a multi-line value (it merges a :86: KREF+ into it). */
  readonly customerReference: string | null | undefined;
  readonly statementReference: string | null;
  readonly valueDate: string;
  readonly entryDate: string | null;
}

/** A one-line scalar; undefined for a quoted value that runs over several lines. */
function scalar(chunk: string, key: string): string | null | undefined {
  const match = new RegExp(`\\n {4}${key}: (.*)\\n`).exec(chunk);
  if (match?.[1] === undefined) return null;
  const value = match[1].trim();
  if (value === "null") return null;
  if (value.startsWith("'") && (value.length === 1 || !value.endsWith("'"))) return undefined;
  if (value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1).replace(/''/g, "'");
  return value;
}

/** A pickled python date: `!!binary` base64 of [year high, year low, month, day]. */
function pickledDate(chunk: string, key: string): string | null {
  const match = new RegExp(`\\n {4}${key}: !!python/object/apply:mt940\\.models\\.Date\\n {4}- !!binary \\|\\n {6}(\\S+)`).exec(chunk);
  if (match?.[1] === undefined) return null;
  const bytes = Buffer.from(match[1], "base64");
  const [high = 0, low = 0, month = 0, day = 0] = bytes;
  return `${String(high * 256 + low).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

export function expectedTransactions(yaml: string): ExpectedTransaction[] {
  return yaml
    .split("\n- !!python/object:mt940.models.Transaction\n")
    .slice(1)
    .map((chunk) => {
      const amount = /\n {4}amount: !!python\/object:mt940\.models\.Amount\n {6}amount: !!python\/object\/apply:decimal\.Decimal\n {6}- '([^']+)'\n {6}currency: (\w+)/.exec(chunk);
      const valueDate = pickledDate(chunk, "date");
      if (amount?.[1] === undefined || amount[2] === undefined || valueDate === null) throw new Error(`unreadable expected transaction: ${chunk.slice(0, 200)}`);
      return {
        amount: amount[1],
        currency: amount[2],
        status: scalar(chunk, "status") ?? "",
        fundsCode: scalar(chunk, "funds_code") ?? null,
        id: scalar(chunk, "id") ?? "",
        bankReference: scalar(chunk, "bank_reference") ?? null,
        customerReference: scalar(chunk, "customer_reference"),
        statementReference: scalar(chunk, "transaction_reference") ?? null,
        valueDate,
        entryDate: pickledDate(chunk, "entry_date"),
      };
    });
}

/** A decimal string ("-620.3", "20000.00") in minor units of a 2-decimal currency, unsigned. */
export function minorOf(decimal: string): bigint {
  const unsigned = decimal.replace(/^-/, "");
  const [whole = "0", fraction = ""] = unsigned.split(".");
  return BigInt(whole + fraction.padEnd(2, "0").slice(0, 2));
}
