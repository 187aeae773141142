// Exceptions, found by SQL over the read models each time they are asked
// for (so an item leaves the list the moment it is matched or resolved, and
// an ageing limit changed today applies today). Among the open items (in no
// match_items row: no live match, not resolved):
// - aged: dated more than the account's ageing limit before `asOf`, either side;
// - duplicate: an open statement line with the same amount, direction,
//   date and reference as another open line of the account (a double
//   charge, or a line the bank sent twice under two ids); once one of them
//   is matched or resolved, the other is no longer a suspect;
// - amount-mismatch: a statement line whose reference an open ledger line
//   carries too, with another amount.
// One item may be in several kinds (one exception each). A write-off
// entry's own line is never an item.
import type pg from "pg";
import { WRITE_OFF_METADATA_KEY, exceptionIdOf } from "@trueup/contracts";
import type { ExceptionKind } from "@trueup/contracts";
import type { AccountItems } from "./match-reader.ts";

export interface ExceptionRow {
  readonly exceptionId: string;
  readonly kind: ExceptionKind;
  readonly side: "external" | "internal";
  readonly itemId: string;
  /** Signed: positive is money into the bank account. */
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly date: string | null;
  readonly reference: string | null;
  readonly description: string | null;
  readonly assignee: string | null;
  /** Where it sorts (the page cursor): date ("-infinity" when undated), kind, side, item id. */
  readonly sortKey: { readonly date: string; readonly kind: ExceptionKind; readonly side: "external" | "internal"; readonly itemId: string };
}

/** What GET /bank-accounts/{id}/exceptions asks for. */
export interface ExceptionQuery {
  readonly asOf: string;
  readonly ageingDays: number;
  readonly kind?: ExceptionKind | undefined;
  readonly after?: ExceptionRow["sortKey"] | undefined;
  readonly limit: number;
}

type Raw = Record<string, unknown>;
const strOrNull = (v: unknown): string | null => (typeof v === "string" ? v : null);

export class ExceptionReader {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schemas: { readonly matching: string; readonly reconciliation: string; readonly ledger: string },
  ) {}

  async exceptions(account: AccountItems, q: ExceptionQuery): Promise<ExceptionRow[]> {
    const m = `"${this.schemas.matching}"`;
    const rec = `"${this.schemas.reconciliation}"`;
    const led = `"${this.schemas.ledger}"`;
    const reference = (l: string): string => `COALESCE(${l}.end_to_end_id, ${l}.bank_reference, ${l}.customer_reference, ${l}.creditor_reference)`;
    const signed = (amount: string, dir: string, inflow: string): string => `CASE WHEN ${dir} = '${inflow}' THEN ${amount} ELSE -${amount} END`;
    const sql = `
      WITH open_ext AS (
        SELECT l.line_id AS item_id, ${signed("l.amount_minor", "l.side", "credit")} AS amount, l.side AS dir, COALESCE(l.booking_date, l.value_date) AS item_date,
               ${reference("l")} AS reference, COALESCE(l.remittance_information, l.description) AS description
          FROM ${rec}.statement_lines l
         WHERE l.bank_account_id = $1
           AND NOT EXISTS (SELECT 1 FROM ${m}.match_items mi WHERE mi.bank_account_id = $1 AND mi.side = 'external' AND mi.item_id = l.line_id)),
      open_int AS (
        SELECT el.entry_id || ':' || (el.line_no - 1) AS item_id, ${signed("el.amount_minor", "el.side", "debit")} AS amount, el.effective_date AS item_date,
               j.external_reference AS reference, j.description
          FROM ${led}.entry_lines el
          JOIN ${led}.journal_entries j ON j.ledger_id = el.ledger_id AND j.entry_id = el.entry_id AND j.metadata->>'${WRITE_OFF_METADATA_KEY}' IS NULL
         WHERE el.ledger_id = $2 AND el.code = $3 AND el.currency = $4
           AND NOT EXISTS (SELECT 1 FROM ${m}.match_items mi WHERE mi.bank_account_id = $1 AND mi.side = 'internal' AND mi.item_id = el.entry_id || ':' || (el.line_no - 1))),
      found AS (
        SELECT 'aged' AS kind, 'external' AS side, item_id, amount, item_date, reference, description FROM open_ext WHERE item_date < $5::date - $6::integer
        UNION ALL
        SELECT 'aged', 'internal', item_id, amount, item_date, reference, description FROM open_int WHERE item_date < $5::date - $6::integer
        UNION ALL
        SELECT 'duplicate', 'external', e.item_id, e.amount, e.item_date, e.reference, e.description FROM open_ext e
         WHERE e.reference IS NOT NULL AND EXISTS (
           SELECT 1 FROM open_ext o
            WHERE o.item_id <> e.item_id AND o.amount = e.amount AND o.item_date IS NOT DISTINCT FROM e.item_date AND o.reference = e.reference)
        UNION ALL
        SELECT 'amount-mismatch', 'external', e.item_id, e.amount, e.item_date, e.reference, e.description FROM open_ext e
         WHERE e.reference IS NOT NULL AND EXISTS (SELECT 1 FROM open_int i WHERE i.reference = e.reference AND i.amount <> e.amount))
      SELECT kind, side, item_id, amount::text AS amount, item_date::text AS item_date, COALESCE(item_date::text, '-infinity') AS sort_date, reference, description
        FROM found
       WHERE ($7::text IS NULL OR kind = $7)
         AND ($8::text IS NULL OR (COALESCE(item_date, '-infinity'::date), kind, side, item_id) > ($8::date, $9::text, $10::text, $11::text))
       ORDER BY COALESCE(item_date, '-infinity'::date), kind, side, item_id
       LIMIT $12`;
    const after = q.after;
    const { rows } = await this.pool.query<Raw>(sql, [
      account.bankAccountId, account.ledgerId, account.ledgerAccount, account.currency, q.asOf, q.ageingDays, q.kind ?? null,
      after?.date ?? null, after?.kind ?? null, after?.side ?? null, after?.itemId ?? null, q.limit,
    ]);
    const found = rows.map((r) => {
      const kind = String(r.kind) as ExceptionKind;
      const side = r.side === "internal" ? "internal" : "external";
      const itemId = String(r.item_id);
      return { kind, side, itemId, r, exceptionId: exceptionIdOf({ bankAccountId: account.bankAccountId, kind, side, itemId }) } as const;
    });
    const assigned = await this.assignees(found.map((f) => f.exceptionId));
    return found.map(({ kind, side, itemId, r, exceptionId }) => ({
      exceptionId,
      kind,
      side,
      itemId,
      amountMinor: BigInt(String(r.amount)),
      currency: account.currency,
      date: strOrNull(r.item_date),
      reference: strOrNull(r.reference),
      description: strOrNull(r.description),
      assignee: assigned.get(exceptionId) ?? null,
      sortKey: { date: String(r.sort_date), kind, side, itemId },
    }));
  }

  private async assignees(exceptionIds: readonly string[]): Promise<ReadonlyMap<string, string>> {
    if (exceptionIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{ exception_id: string; assignee: string }>(
      `SELECT exception_id, assignee FROM "${this.schemas.matching}".exception_assignments WHERE exception_id = ANY($1::text[])`,
      [exceptionIds],
    );
    return new Map(rows.map((r) => [r.exception_id, r.assignee]));
  }
}
