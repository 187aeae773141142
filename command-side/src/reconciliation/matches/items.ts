// The amounts of the items a clerk matches by hand, read from the read
// models (statement_lines of the reconciliation model, journal_entries of
// the ledger model), by their keys. Why a decision may read them there:
// they are facts that never change once recorded (a line's amount, an
// entry's lines), so a read model can only lag on whether one exists yet,
// never be wrong about one it has; and the consistency the decision needs
// (no item in two live matches) comes from the recon stream, not from here.
// An item not found is refused MATCH_ITEM_NOT_FOUND, which says the read
// models may not have it yet: a retry after the import or posting has been
// projected finds it.
import type pg from "pg";

/** Signed minor units (positive: money into the bank account), with the item's currency. */
export interface ItemAmount {
  readonly amountMinor: bigint;
  readonly currency: string;
}

export interface MatchItemReader {
  /** The bank account's statement lines by line id; a line not visible is absent. */
  externalItems(bankAccountId: string, lineIds: readonly string[]): Promise<ReadonlyMap<string, ItemAmount>>;
  /**
   * Ledger lines `<entryId>:<line index>` (0-based) of the ledger that post
   * to `ledgerAccount`; one on another account, or not visible, is absent.
   */
  internalItems(ledgerId: string, ledgerAccount: string, itemIds: readonly string[]): Promise<ReadonlyMap<string, ItemAmount>>;
}

/** An internal item's id: the entry id, then the 0-based index of the line in the entry. */
export function parseInternalItemId(id: string): { readonly entryId: string; readonly index: number } | undefined {
  const at = id.lastIndexOf(":");
  if (at <= 0) return undefined;
  const index = Number(id.slice(at + 1));
  if (!/^(0|[1-9]\d{0,3})$/.test(id.slice(at + 1)) || !Number.isSafeInteger(index)) return undefined;
  return { entryId: id.slice(0, at), index };
}

interface JournalLine {
  readonly accountCode: string;
  readonly side: "debit" | "credit";
  readonly amountMinor: string;
  readonly currency: string;
}

export class PostgresMatchItemReader implements MatchItemReader {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schemas: { readonly reconciliation: string; readonly ledger: string },
  ) {}

  async externalItems(bankAccountId: string, lineIds: readonly string[]): Promise<ReadonlyMap<string, ItemAmount>> {
    const { rows } = await this.pool.query<{ line_id: string; amount_minor: string; side: string; currency: string }>(
      `SELECT line_id, amount_minor::text AS amount_minor, side, currency FROM ${this.schemas.reconciliation}.statement_lines WHERE bank_account_id = $1 AND line_id = ANY($2::text[])`,
      [bankAccountId, lineIds],
    );
    return new Map(rows.map((row) => [row.line_id, { amountMinor: row.side === "credit" ? BigInt(row.amount_minor) : -BigInt(row.amount_minor), currency: row.currency }]));
  }

  async internalItems(ledgerId: string, ledgerAccount: string, itemIds: readonly string[]): Promise<ReadonlyMap<string, ItemAmount>> {
    const wanted = new Map<string, { readonly entryId: string; readonly index: number }>();
    for (const id of itemIds) {
      const parsed = parseInternalItemId(id);
      if (parsed !== undefined) wanted.set(id, parsed);
    }
    const entryIds = [...new Set([...wanted.values()].map((w) => w.entryId))];
    const { rows } = await this.pool.query<{ entry_id: string; lines: string }>(
      `SELECT entry_id, lines::text AS lines FROM ${this.schemas.ledger}.journal_entries WHERE ledger_id = $1 AND entry_id = ANY($2::text[])`,
      [ledgerId, entryIds],
    );
    const linesOf = new Map(rows.map((row) => [row.entry_id, JSON.parse(row.lines) as JournalLine[]]));
    const found = new Map<string, ItemAmount>();
    for (const [id, { entryId, index }] of wanted) {
      const line = linesOf.get(entryId)?.[index];
      if (line?.accountCode !== ledgerAccount) continue;
      // The bank account's ledger account is an asset: a debit is money into it.
      found.set(id, { amountMinor: line.side === "debit" ? BigInt(line.amountMinor) : -BigInt(line.amountMinor), currency: line.currency });
    }
    return found;
  }
}
