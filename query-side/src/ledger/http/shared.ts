// What the ledger's query routes share: their limits, the querystring and
// response schemas (strict: a parameter a route does not know is a 400
// naming it, never silently ignored), cursors, and the checks every route
// makes first (read-your-writes wait, the ledger exists, the account exists).
import { z } from "zod";
import { pagingSchemas } from "../../http/paging.ts";
import type { ErrorCode } from "@trueup/contracts";
import { TrueupError, accountCodeSchema, currencyOf, dateSchema, decimalAmountDto, documentedDate, formatMinorUnits, ledgerIdSchema, problemResponses, unknownCurrencyMessage } from "@trueup/contracts";
import type { AccountRow, BalanceRow, LedgerReader } from "../reader.ts";

export const QUERY_LIMITS = {
  pageSizeDefault: 100,
  /** A page holds at most this many rows; `limit` above it is a 400 that names it. */
  pageSizeMax: 1000,
  /** How long `minPosition` waits for the read model before a 503 READ_MODEL_BEHIND. */
  minPositionWaitMs: 5_000,
  exportPageSize: 1000,
  /** The hledger export stops (and fails the response) beyond this many entries. */
  exportEntriesMax: 5_000_000,
  /** A cursor is a few codes and positions, base64url: anything longer was not returned by us. */
  cursorLengthMax: 500,
} as const;

export interface LedgerQueryRoutesDeps {
  readonly reader: LedgerReader;
  /** Resolves true once the read model has applied the log up to `position`. */
  readonly waitForPosition: (position: string, timeoutMs: number) => Promise<boolean>;
}

export const tags = ["ledger queries"];

// --- request schemas ----------------------------------------------------------

export const ledgerParams = z.strictObject({ ledgerId: ledgerIdSchema.meta({ description: "The ledger's id, as chosen when it was created", example: "acme" }) });
export const accountParams = ledgerParams.extend({ code: accountCodeSchema.meta({ description: "The account's code in its ledger", example: "1000" }) });

export const { limitSchema, cursorSchema, consistency } = pagingSchemas(QUERY_LIMITS, { cursorExample: "WyIxMDAwIl0" });

export const asOfSchema = documentedDate(dateSchema, "Balances over effective dates up to and including this date; omit for now").optional();

/** A currency in a query: an active ISO 4217 code, else 400 CURRENCY_UNKNOWN at that parameter (never a 500 from the table). */
export const queryCurrencySchema = z
  .string()
  .transform((code, ctx) => {
    const found = currencyOf(code);
    if (found !== undefined) return found.code;
    ctx.addIssue({ code: "custom", message: unknownCurrencyMessage(code), params: { code: "CURRENCY_UNKNOWN" } });
    return z.NEVER;
  })
  .meta({ type: "string", pattern: "^[A-Z]{3}$", description: "An active ISO 4217 currency code", example: "EUR" });

// --- response schemas -----------------------------------------------------------

export const amount = decimalAmountDto;
export const sideDto = z.enum(["debit", "credit"]).meta({ description: "Which side the amount or balance is on", example: "debit" });
export const currencyDto = z.string().meta({ description: "ISO 4217 currency code", example: "EUR" });
export const dateDto = z.string().meta({ format: "date", description: "Effective date (YYYY-MM-DD)", example: "2026-03-31" });
export const nextCursorDto = z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last page", example: "WyIxMDAwIl0" });

export const balanceDto = z
  .object({ currency: currencyDto, debitTotal: amount, creditTotal: amount, balance: amount, side: sideDto })
  .meta({ description: "One currency's totals on an account; `balance` is the difference, on `side`" });

export const accountDto = z
  .object({
    code: z.string().meta({ example: "1000" }),
    name: z.string().meta({ example: "Cash at bank EUR" }),
    type: z.string().meta({ enum: ["asset", "liability", "equity", "revenue", "expense"], example: "asset" }),
    currency: z.string().nullable().meta({ description: "The only currency the account takes, or null for any", example: "EUR" }),
    status: z.string().meta({ enum: ["open", "closed"], example: "open" }),
    balances: z.array(balanceDto),
  })
  .meta({
    description: "An account with its current totals per currency",
    example: { code: "1000", name: "Cash at bank EUR", type: "asset", currency: "EUR", status: "open", balances: [{ currency: "EUR", debitTotal: "15230.00", creditTotal: "4100.50", balance: "11129.50", side: "debit" }] },
  });

/** Problems every ledger query can answer with, besides its own. */
const QUERY_PROBLEMS: readonly ErrorCode[] = ["VALIDATION_FAILED", "LEDGER_NOT_FOUND", "READ_MODEL_BEHIND", "READ_MODEL_NOT_READY", "OVERLOADED", "STORE_UNAVAILABLE"];

/** The documented failure responses of a ledger query that can also answer `extra`. */
export function queryProblems(...extra: ErrorCode[]) {
  return problemResponses([...QUERY_PROBLEMS, ...extra]);
}

// --- helpers ----------------------------------------------------------------------

/** Balances and totals are sums, which may exceed what one amount may hold: formatted without that limit. */
export const fmt = (amountMinor: bigint, currency: string): string => formatMinorUnits(amountMinor.toString(), currency);

export function balanceOf(row: BalanceRow): z.infer<typeof balanceDto> {
  const net = row.debitMinor - row.creditMinor;
  return {
    currency: row.currency,
    debitTotal: fmt(row.debitMinor, row.currency),
    creditTotal: fmt(row.creditMinor, row.currency),
    balance: fmt(net < 0n ? -net : net, row.currency),
    side: net < 0n ? "credit" : "debit",
  };
}

export function encodeCursor(parts: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

/** What each kind of cursor holds, in order. */
const CURSOR_SHAPES = { code: ["string"], "day-position": ["string", "string"], "day-position-line": ["string", "string", "number"] } as const;
type CursorShape = keyof typeof CURSOR_SHAPES;

/** The parts of a cursor this endpoint returned; anything else is a 400 at the querystring's /cursor. */
export function decodeCursor(cursor: string | undefined, shape: CursorShape): (string | number)[] | undefined {
  if (cursor === undefined) return undefined;
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parts = undefined;
  }
  const types = CURSOR_SHAPES[shape];
  if (!Array.isArray(parts) || parts.length !== types.length || !parts.every((p, i) => typeof p === types[i])) {
    throw new TrueupError("VALIDATION_FAILED", "querystring/cursor: not a cursor this endpoint returned; pass the nextCursor of the previous page", { path: ["cursor"], in: "querystring" });
  }
  return parts as (string | number)[];
}

/** The checks a route makes before it reads: its own writes are visible, the ledger and the account exist. */
export class QueryGuards {
  constructor(private readonly deps: LedgerQueryRoutesDeps) {}

  async consistent(ledgerId: string, minPosition: string | undefined): Promise<void> {
    if (minPosition !== undefined && !(await this.deps.waitForPosition(minPosition, QUERY_LIMITS.minPositionWaitMs))) {
      throw new TrueupError("READ_MODEL_BEHIND", `read model has not reached ${minPosition} within ${QUERY_LIMITS.minPositionWaitMs} ms; retry`);
    }
    if (!(await this.deps.reader.ledgerExists(ledgerId))) throw new TrueupError("LEDGER_NOT_FOUND", `no ledger ${ledgerId}`);
  }

  async requireAccount(ledgerId: string, code: string): Promise<AccountRow> {
    const [row] = await this.deps.reader.accounts(ledgerId, { code, limit: 1 });
    if (row === undefined) throw new TrueupError("ACCOUNT_NOT_FOUND", `no account ${code} in ledger ${ledgerId}`);
    return row;
  }

  async account(ledgerId: string, code: string, asOf?: string): Promise<z.infer<typeof accountDto>> {
    const row = await this.requireAccount(ledgerId, code);
    const balances = await this.deps.reader.balances(ledgerId, { codes: [code], asOf });
    return { ...row, balances: balances.map(balanceOf) };
  }
}
