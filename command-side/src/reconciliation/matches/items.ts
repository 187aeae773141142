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
import { WRITE_OFF_METADATA_KEY } from "@trueup/contracts";
import type { ExternalItem, InternalItem } from "../matching/types.ts";

/** Signed minor units (positive: money into the bank account), with the item's currency. */
export interface ItemAmount {
  readonly amountMinor: bigint;
  readonly currency: string;
  /** Booking date (else value date) of a statement line; effective date of a ledger line. */
  readonly date: string | null;
  /** Who paid or was paid: a statement line's counterparty, a posting's (from its metadata). What a manual match teaches. */
  readonly counterpartyName: string | null;
  readonly counterpartyIban: string | null;
  /** For a ledger line: the other accounts of its entry (where the money came from or went); empty for a statement line. */
  readonly contraAccounts: readonly string[];
}


/** A run's window: items dated in [from, to] (booking date, else value date, for a statement line; the entry's date for a ledger line). */
export interface RunWindow {
  readonly from: string | null;
  readonly to: string | null;
  /** At most this many items per side are read; more is refused (RECONCILIATION_RUN_TOO_LARGE). */
  readonly itemsMax: number;
}

export interface MatchItemReader {
  /** Every statement line of the account in the window, as the engine reads them; `itemsMax + 1` at most. */
  runExternal(bankAccountId: string, window: RunWindow): Promise<ExternalItem[]>;
  /** Every ledger line on `ledgerAccount` of the ledger in the window, with its entry's reference, description and other accounts; `itemsMax + 1` at most. */
  runInternal(ledgerId: string, ledgerAccount: string, window: RunWindow): Promise<InternalItem[]>;
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

interface ExternalRow {
  readonly line_id: string;
  readonly amount_minor: string;
  readonly side: string;
  readonly currency: string;
  readonly booking_date: string | null;
  readonly value_date: string | null;
  readonly end_to_end_id: string | null;
  readonly bank_reference: string | null;
  readonly customer_reference: string | null;
  readonly creditor_reference: string | null;
  readonly remittance_information: string | null;
  readonly description: string | null;
  readonly counterparty_name: string | null;
  readonly counterparty_iban: string | null;
}

interface JournalLine {
  readonly accountCode: string;
  readonly side: "debit" | "credit";
  readonly amountMinor: string;
  readonly currency: string;
}

/** An entry's accounts other than the bank's, each once, in the entry's order. */
function contraAccountsOf(lines: readonly JournalLine[], ledgerAccount: string): string[] {
  return [...new Set(lines.filter((line) => line.accountCode !== ledgerAccount).map((line) => line.accountCode))];
}

/** What signing off a period reads besides the items: the two balances at its end, and how far the read models are. */
export interface PeriodBalanceReader {
  /** The closing balance of the account's latest statement ending on or before `periodEnd` (signed: credit positive), or null. */
  bankBalance(bankAccountId: string, periodEnd: string): Promise<{ readonly amountMinor: bigint; readonly date: string; readonly source: string } | null>;
  /** The ledger account's balance in `currency` over entries dated up to `periodEnd` (debit positive). */
  bookBalance(ledgerId: string, ledgerAccount: string, currency: string, periodEnd: string): Promise<bigint>;
  /** The positions the items' read models have applied the log up to (the lower of the two), or undefined before their first batch. */
  appliedThrough(): Promise<string | undefined>;
}

export class PostgresMatchItemReader implements MatchItemReader, PeriodBalanceReader {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schemas: { readonly reconciliation: string; readonly ledger: string },
  ) {}

  async runExternal(bankAccountId: string, window: RunWindow): Promise<ExternalItem[]> {
    const { rows } = await this.pool.query<ExternalRow>(
      `SELECT line_id, amount_minor::text AS amount_minor, side, currency, booking_date::text AS booking_date, value_date::text AS value_date,
              end_to_end_id, bank_reference, customer_reference, creditor_reference, remittance_information, description, counterparty_name, counterparty_iban
         FROM ${this.schemas.reconciliation}.statement_lines
        WHERE bank_account_id = $1 AND ($2::date IS NULL OR sort_date >= $2::date) AND ($3::date IS NULL OR sort_date <= $3::date)
          AND (booking_date IS NOT NULL OR value_date IS NOT NULL)
        ORDER BY line_id LIMIT $4`,
      [bankAccountId, window.from, window.to, window.itemsMax + 1],
    );
    return rows.map((row) => ({
      id: row.line_id,
      amountMinor: row.side === "credit" ? BigInt(row.amount_minor) : -BigInt(row.amount_minor),
      currency: row.currency,
      bookingDate: row.booking_date,
      valueDate: row.value_date,
      endToEndId: row.end_to_end_id,
      bankReference: row.bank_reference,
      customerReference: row.customer_reference,
      creditorReference: row.creditor_reference,
      remittanceInformation: row.remittance_information,
      description: row.description,
      counterpartyName: row.counterparty_name,
      counterpartyIban: row.counterparty_iban,
    }));
  }

  async runInternal(ledgerId: string, ledgerAccount: string, window: RunWindow): Promise<InternalItem[]> {
    const { rows } = await this.pool.query<{ entry_id: string; effective_date: string; external_reference: string | null; description: string; metadata: string; lines: string }>(
      `SELECT j.entry_id, j.effective_date::text AS effective_date, j.external_reference, j.description, j.metadata::text AS metadata, j.lines::text AS lines
         FROM ${this.schemas.ledger}.journal_entries j
        WHERE j.ledger_id = $1 AND ($3::date IS NULL OR j.effective_date >= $3::date) AND ($4::date IS NULL OR j.effective_date <= $4::date)
          AND j.metadata->>'${WRITE_OFF_METADATA_KEY}' IS NULL
          AND EXISTS (SELECT 1 FROM ${this.schemas.ledger}.entry_lines l WHERE l.ledger_id = j.ledger_id AND l.entry_id = j.entry_id AND l.code = $2)
        ORDER BY j.entry_id LIMIT $5`,
      [ledgerId, ledgerAccount, window.from, window.to, window.itemsMax + 1],
    );
    const items: InternalItem[] = [];
    for (const row of rows) {
      const lines = JSON.parse(row.lines) as JournalLine[];
      const metadata = JSON.parse(row.metadata) as Record<string, string>;
      const contraAccounts = contraAccountsOf(lines, ledgerAccount);
      lines.forEach((line, index) => {
        if (line.accountCode !== ledgerAccount) return;
        items.push({
          id: `${row.entry_id}:${index}`,
          amountMinor: line.side === "debit" ? BigInt(line.amountMinor) : -BigInt(line.amountMinor),
          currency: line.currency,
          date: row.effective_date,
          reference: row.external_reference,
          description: row.description,
          // Postings may name their counterparty in metadata (counterparty, counterpartyIban).
          counterpartyName: metadata.counterparty ?? null,
          counterpartyIban: metadata.counterpartyIban ?? null,
          contraAccounts,
        });
      });
    }
    return items;
  }

  async bankBalance(bankAccountId: string, periodEnd: string): Promise<{ readonly amountMinor: bigint; readonly date: string; readonly source: string } | null> {
    const { rows } = await this.pool.query<{ statement_id: string; minor: string; side: string; date: string }>(
      `SELECT statement_id, closing_minor::text AS minor, closing_side AS side, COALESCE(closing_date, period_end)::text AS date
         FROM ${this.schemas.reconciliation}.statements
        WHERE bank_account_id = $1 AND closing_minor IS NOT NULL AND COALESCE(closing_date, period_end) <= $2::date
        ORDER BY COALESCE(closing_date, period_end) DESC, position DESC LIMIT 1`,
      [bankAccountId, periodEnd],
    );
    const row = rows[0];
    if (row === undefined) return null;
    // A bank states the holder's balance: credit is money the bank holds for us.
    return { amountMinor: row.side === "credit" ? BigInt(row.minor) : -BigInt(row.minor), date: row.date, source: `statement ${row.statement_id}` };
  }

  async bookBalance(ledgerId: string, ledgerAccount: string, currency: string, periodEnd: string): Promise<bigint> {
    const { rows } = await this.pool.query<{ net: string }>(
      `SELECT COALESCE(sum(CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END), 0)::text AS net
         FROM ${this.schemas.ledger}.entry_lines WHERE ledger_id = $1 AND code = $2 AND currency = $3 AND effective_date <= $4::date`,
      [ledgerId, ledgerAccount, currency, periodEnd],
    );
    return BigInt(rows[0]?.net ?? "0");
  }

  async appliedThrough(): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ position: string | null }>(
      // least() skips NULLs: a model that applied nothing yet must make the answer "nothing", not the other's position.
      `SELECT CASE WHEN r.position IS NULL OR l.position IS NULL THEN NULL ELSE least(r.position, l.position) END AS position
         FROM (SELECT position FROM ${this.schemas.reconciliation}.checkpoint LIMIT 1) r, (SELECT position FROM ${this.schemas.ledger}.checkpoint LIMIT 1) l`,
    );
    return rows[0]?.position ?? undefined;
  }

  async externalItems(bankAccountId: string, lineIds: readonly string[]): Promise<ReadonlyMap<string, ItemAmount>> {
    const { rows } = await this.pool.query<{ line_id: string; amount_minor: string; side: string; currency: string; date: string | null; counterparty_name: string | null; counterparty_iban: string | null }>(
      `SELECT line_id, amount_minor::text AS amount_minor, side, currency, COALESCE(booking_date, value_date)::text AS date, counterparty_name, counterparty_iban
         FROM ${this.schemas.reconciliation}.statement_lines WHERE bank_account_id = $1 AND line_id = ANY($2::text[])`,
      [bankAccountId, lineIds],
    );
    return new Map(rows.map((row) => [row.line_id, {
      amountMinor: row.side === "credit" ? BigInt(row.amount_minor) : -BigInt(row.amount_minor), currency: row.currency, date: row.date,
      counterpartyName: row.counterparty_name, counterpartyIban: row.counterparty_iban, contraAccounts: [],
    }]));
  }

  async internalItems(ledgerId: string, ledgerAccount: string, itemIds: readonly string[]): Promise<ReadonlyMap<string, ItemAmount>> {
    const wanted = new Map<string, { readonly entryId: string; readonly index: number }>();
    for (const id of itemIds) {
      const parsed = parseInternalItemId(id);
      if (parsed !== undefined) wanted.set(id, parsed);
    }
    const entryIds = [...new Set([...wanted.values()].map((w) => w.entryId))];
    const { rows } = await this.pool.query<{ entry_id: string; lines: string; effective_date: string; metadata: string }>(
      `SELECT entry_id, lines::text AS lines, effective_date::text AS effective_date, metadata::text AS metadata FROM ${this.schemas.ledger}.journal_entries
        WHERE ledger_id = $1 AND entry_id = ANY($2::text[]) AND metadata->>'${WRITE_OFF_METADATA_KEY}' IS NULL`,
      [ledgerId, entryIds],
    );
    const entries = new Map(rows.map((row) => [row.entry_id, { lines: JSON.parse(row.lines) as JournalLine[], date: row.effective_date, metadata: JSON.parse(row.metadata) as Record<string, string> }]));
    const found = new Map<string, ItemAmount>();
    for (const [id, { entryId, index }] of wanted) {
      const entry = entries.get(entryId);
      const line = entry?.lines[index];
      if (entry === undefined || line?.accountCode !== ledgerAccount) continue;
      // The bank account's ledger account is an asset: a debit is money into it.
      found.set(id, {
        amountMinor: line.side === "debit" ? BigInt(line.amountMinor) : -BigInt(line.amountMinor), currency: line.currency, date: entry.date,
        counterpartyName: entry.metadata.counterparty ?? null, counterpartyIban: entry.metadata.counterpartyIban ?? null,
        contraAccounts: contraAccountsOf(entry.lines, ledgerAccount),
      });
    }
    return found;
  }
}
