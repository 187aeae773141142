// SQL over the ledger read model (schema rm_ledger, written only by the
// ledger projection). Amounts come back from numeric columns as strings and
// are parsed to bigint here, at the boundary; nothing downstream sees `number`.
import type pg from "pg";

export interface BalanceRow {
  readonly code: string;
  readonly currency: string;
  readonly debitMinor: bigint;
  readonly creditMinor: bigint;
}

export interface AccountRow {
  readonly code: string;
  readonly name: string;
  readonly type: string;
  readonly currency: string | null;
  readonly status: string;
}

export interface StatementLineRow {
  readonly entryId: string;
  readonly effectiveDate: string;
  readonly position: string;
  readonly lineNo: number;
  readonly side: "debit" | "credit";
  readonly amountMinor: bigint;
  readonly description: string;
}

/** Which statement: one account's lines in one currency. */
export interface StatementKey {
  readonly ledgerId: string;
  readonly code: string;
  readonly currency: string;
}

/** A line's place in statement order: effective date, then log position, then line number. */
export interface StatementLineKey {
  readonly day: string;
  readonly position: string;
  readonly lineNo: number;
}

export interface EntryRow {
  readonly entryId: string;
  readonly effectiveDate: string;
  readonly description: string;
  readonly externalReference: string | null;
  readonly metadata: Record<string, string>;
  readonly lines: { accountCode: string; side: "debit" | "credit"; amountMinor: string; currency: string }[];
  readonly reverses: string | null;
  readonly reversedBy: string | null;
  readonly position: string;
}

export interface ReaderLimits {
  readonly cachedAccountNamesMax: number;
  readonly trialBalanceChunkAccounts: number;
  readonly trialBalanceChunksMax: number;
}

/** Test seams: where a test may act between the steps of a read, to make an interleaving deterministic. */
export interface ReaderHooks {
  /** Awaited after trial-balance range `rangeIndex - 1` has been read and before range `rangeIndex` is asked for. */
  readonly beforeTrialBalanceRange?: (rangeIndex: number) => Promise<void>;
}

export type ReaderOptions = Partial<ReaderLimits> & ReaderHooks;

export const READER_LIMITS: ReaderLimits = {
  /** Account names kept in memory for trial balances, over all ledgers (about 100 bytes each). */
  cachedAccountNamesMax: 200_000,
  /** A trial balance of more accounts than this is read as several code ranges side by side. */
  trialBalanceChunkAccounts: 2_500,
  /** At most this many ranges (connections) per trial balance. */
  trialBalanceChunksMax: 4,
};

/** What a trial balance is made of, as read (see trialBalanceSource). */
export interface TrialBalanceSource {
  /**
   * Consecutive code ranges, in code order; each resolves to "code,currency,net;…" in code then currency order:
   * net = debit − credit in minor units, canonical digits, never 0.
   */
  readonly chunks: readonly Promise<string>[];
  /**
   * An account's trial-balance row up to its currency, `{"code":…,"name":…,"type":…,"currency":"`
   * (built once per account); undefined if the code is unknown even after reading the names again.
   */
  rowPrefix(code: string): string | undefined | Promise<string | undefined>;
}

interface AccountNames {
  /** Row openings by code (see TrialBalanceSource.rowPrefix). */
  readonly byCode: ReadonlyMap<string, string>;
  /** Codes that cut the accounts into equal ranges for reading a trial balance side by side. */
  readonly bounds: readonly string[];
}

type Raw = Record<string, unknown>;
const str = (v: unknown): string => String(v);
const big = (v: unknown): bigint => BigInt(String(v));

function toBalance(r: Raw): BalanceRow {
  return { code: str(r.code), currency: str(r.currency), debitMinor: big(r.debit_minor), creditMinor: big(r.credit_minor) };
}

export class LedgerReader {
  /** Account names per ledger for the trial balance (see trialBalanceSource), in the order they were read. */
  private readonly names = new Map<string, AccountNames>();
  private namesCached = 0;

  private readonly limits: ReaderLimits;
  private readonly beforeTrialBalanceRange: ReaderHooks["beforeTrialBalanceRange"];

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    /** Tests narrow the limits to reach paths that otherwise take thousands of accounts. */
    options: ReaderOptions = {},
  ) {
    const { beforeTrialBalanceRange, ...limits } = options;
    this.limits = { ...READER_LIMITS, ...limits };
    this.beforeTrialBalanceRange = beforeTrialBalanceRange;
  }

  private rememberNames(ledgerId: string, accounts: AccountNames): void {
    this.namesCached -= this.names.get(ledgerId)?.byCode.size ?? 0;
    this.names.delete(ledgerId);
    this.names.set(ledgerId, accounts);
    this.namesCached += accounts.byCode.size;
    for (const [oldest, dropped] of this.names) {
      if (this.namesCached <= this.limits.cachedAccountNamesMax || oldest === ledgerId) break;
      this.names.delete(oldest);
      this.namesCached -= dropped.byCode.size;
    }
  }

  private t(table: string): string {
    return `"${this.schema}"."${table}"`;
  }

  async ledgerExists(ledgerId: string): Promise<boolean> {
    const r = await this.pool.query(`SELECT 1 FROM ${this.t("ledgers")} WHERE ledger_id = $1`, [ledgerId]);
    return r.rowCount === 1;
  }

  async ledger(ledgerId: string): Promise<{ name: string; baseCurrency: string } | undefined> {
    const r = await this.pool.query<Raw>(`SELECT name, base_currency FROM ${this.t("ledgers")} WHERE ledger_id = $1`, [ledgerId]);
    const row = r.rows[0];
    return row === undefined ? undefined : { name: str(row.name), baseCurrency: str(row.base_currency) };
  }

  async accounts(ledgerId: string, options: { afterCode?: string | undefined; limit: number; code?: string }): Promise<AccountRow[]> {
    const params: unknown[] = [ledgerId];
    let where = "ledger_id = $1";
    if (options.code !== undefined) {
      params.push(options.code);
      where += ` AND code = $${params.length}`;
    }
    if (options.afterCode !== undefined) {
      params.push(options.afterCode);
      where += ` AND code > $${params.length}`;
    }
    params.push(options.limit);
    const r = await this.pool.query<Raw>(
      `SELECT code, name, type, currency, status FROM ${this.t("accounts")} WHERE ${where} ORDER BY code LIMIT $${params.length}`,
      params,
    );
    return r.rows.map((row) => ({ code: str(row.code), name: str(row.name), type: str(row.type), currency: row.currency === null ? null : str(row.currency), status: str(row.status) }));
  }

  /** Current totals, or totals over effective dates up to asOf (inclusive) from the daily rows. */
  async balances(ledgerId: string, options: { codes?: readonly string[]; asOf?: string | undefined }): Promise<BalanceRow[]> {
    const params: unknown[] = [ledgerId];
    let filter = "";
    if (options.codes !== undefined) {
      params.push(options.codes);
      filter = ` AND code = ANY($${params.length}::text[])`;
    }
    if (options.asOf === undefined) {
      const r = await this.pool.query<Raw>(
        `SELECT code, currency, debit_minor, credit_minor FROM ${this.t("balances")} WHERE ledger_id = $1${filter} ORDER BY code, currency`,
        params,
      );
      return r.rows.map(toBalance);
    }
    params.push(options.asOf);
    const r = await this.pool.query<Raw>(
      `SELECT code, currency, sum(debit_minor) AS debit_minor, sum(credit_minor) AS credit_minor
         FROM ${this.t("daily_balances")} WHERE ledger_id = $1${filter} AND day <= $${params.length}::date
        GROUP BY code, currency ORDER BY code, currency`,
      params,
    );
    return r.rows.map(toBalance);
  }

  /**
   * Every account and currency with a non-zero net (now, or over effective
   * dates up to asOf). The nets come as strings, "code,currency,net;…", for
   * the caller to walk once: node-postgres decodes rows at a few microseconds
   * each, which for 10,000 accounts was most of the time. Codes and
   * currencies cannot contain ',' or ';' (their schemas). A large ledger is
   * read as a few code ranges, so the caller can format one range while the
   * server reads the next.
   *
   * The ranges are one instant of the books: they are read in one REPEATABLE
   * READ transaction on one connection, so every range sees the snapshot the
   * first one took, and a posting the projection commits meanwhile is in no
   * range or (next time) in all of them. Ranges on separate connections each
   * had their own snapshot: a posting committed between two range reads
   * appeared on one side only (debit 1.00, credit 6.00). One connection
   * rather than an exported snapshot shared by several: the queries are
   * queued on it, so the next range is already asked for when the previous
   * one's answer arrives and the overlap with formatting is kept, and a
   * request never waits for a second connection while holding one (a burst
   * of trial balances could otherwise take the whole pool and wait on itself).
   *
   * An account's code, name and type never change once opened, and accounts
   * are never removed, so the names are kept per ledger and read again only
   * when a code is not among them (a newly opened account), at most once per
   * call. The ranges come from the names; the first and last are open-ended,
   * so an account opened since is still in one of them.
   */
  async trialBalanceSource(ledgerId: string, asOf: string | undefined): Promise<TrialBalanceSource> {
    let names = this.names.get(ledgerId) ?? (await this.accountNames(ledgerId));
    const ranges = [undefined, ...names.bounds].map((from, i) => ({ from, to: names.bounds[i] }));
    const chunks = ranges.length === 1 ? [this.trialBalancePart(this.pool, { ledgerId, asOf })] : await this.trialBalanceRanges(ledgerId, asOf, ranges);
    // Awaited in order by the caller; a later range failing first must not count as unhandled meanwhile.
    for (const chunk of chunks) chunk.catch(() => undefined);
    let reread: Promise<AccountNames> | undefined;
    return {
      chunks,
      rowPrefix: (code) => {
        const known = names.byCode.get(code);
        if (known !== undefined) return known;
        // Opened after the names were read: read them again (once).
        reread ??= this.accountNames(ledgerId).then((fresh) => (names = fresh));
        return reread.then((fresh) => fresh.byCode.get(code));
      },
    };
  }

  /** The ranges' queries, queued on one connection inside one REPEATABLE READ transaction (see trialBalanceSource). */
  private async trialBalanceRanges(ledgerId: string, asOf: string | undefined, ranges: readonly { from: string | undefined; to: string | undefined }[]): Promise<Promise<string>[]> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw error;
    }
    const hook = this.beforeTrialBalanceRange;
    const chunks: Promise<string>[] = [];
    for (const [i, range] of ranges.entries()) {
      const previous = chunks[i - 1];
      const part = () => this.trialBalancePart(client, { ledgerId, asOf, ...range });
      chunks.push(hook === undefined || previous === undefined ? part() : previous.then(() => hook(i)).then(part));
    }
    // The connection goes back once every range has settled, whatever the caller does with them meanwhile.
    void Promise.allSettled(chunks).then(async (results) => {
      try {
        await client.query(results.every((r) => r.status === "fulfilled") ? "COMMIT" : "ROLLBACK");
        client.release();
      } catch (error) {
        client.release(error instanceof Error ? error : true);
      }
    });
    return chunks;
  }

  private async trialBalancePart(
    db: pg.Pool | pg.PoolClient,
    options: { ledgerId: string; asOf: string | undefined; from?: string | undefined; to?: string | undefined },
  ): Promise<string> {
    const { ledgerId, asOf, from, to } = options;
    const params: unknown[] = [ledgerId];
    let range = "";
    if (from !== undefined) {
      params.push(from);
      range += ` AND code >= $${params.length}`;
    }
    if (to !== undefined) {
      params.push(to);
      range += ` AND code < $${params.length}`;
    }
    let nets: string;
    if (asOf === undefined) {
      nets = `SELECT code, currency, debit_minor - credit_minor AS net FROM ${this.t("balances")} WHERE ledger_id = $1${range} AND debit_minor <> credit_minor`;
    } else {
      params.push(asOf);
      nets = `SELECT code, currency, net FROM (SELECT code, currency, sum(debit_minor - credit_minor) AS net FROM ${this.t("daily_balances")}
                WHERE ledger_id = $1${range} AND day <= $${params.length}::date GROUP BY code, currency) t WHERE net <> 0`;
    }
    // In the primary key's order (ledger_id, code, currency): the index scan comes sorted, nothing to sort.
    const r = await db.query<{ nets: string }>(
      `SELECT coalesce(string_agg(code || ',' || currency || ',' || net::text, ';' ORDER BY code, currency), '') AS nets FROM (${nets}) n`,
      params,
    );
    return r.rows[0]?.nets ?? "";
  }

  private async accountNames(ledgerId: string): Promise<AccountNames> {
    const r = await this.pool.query<{ accounts: string }>(
      `SELECT coalesce(string_agg(code || ',' || type || ',' || to_json(name)::text, E'\\n' ORDER BY code), '') AS accounts FROM ${this.t("accounts")} WHERE ledger_id = $1`,
      [ledgerId],
    );
    const byCode = new Map<string, string>();
    const text = r.rows[0]?.accounts ?? "";
    // A JSON string literal holds no raw newline, so '\n' separates accounts.
    for (const line of text === "" ? [] : text.split("\n")) {
      const first = line.indexOf(",");
      const second = line.indexOf(",", first + 1);
      const code = line.slice(0, first);
      // Codes and types are plain ASCII by their schemas; the name is already a JSON string literal.
      byCode.set(code, `{"code":"${code}","name":${line.slice(second + 1)},"type":"${line.slice(first + 1, second)}","currency":"`);
    }
    const codes = [...byCode.keys()];
    const count = Math.min(this.limits.trialBalanceChunksMax, Math.ceil(codes.length / this.limits.trialBalanceChunkAccounts));
    const bounds = Array.from({ length: Math.max(0, count - 1) }, (_, i) => codes[Math.floor(((i + 1) * codes.length) / count)] ?? "");
    const accounts = { byCode, bounds };
    this.rememberNames(ledgerId, accounts);
    return accounts;
  }

  /** Net (debit − credit) of one account and currency over effective dates before `beforeDate`. */
  async netBefore(line: StatementKey & { beforeDate: string }): Promise<bigint> {
    const r = await this.pool.query<Raw>(
      `SELECT coalesce(sum(debit_minor - credit_minor), 0) AS net FROM ${this.t("daily_balances")}
        WHERE ledger_id = $1 AND code = $2 AND currency = $3 AND day < $4::date`,
      [line.ledgerId, line.code, line.currency, line.beforeDate],
    );
    return big(r.rows[0]?.net ?? 0);
  }

  /** Net of the lines on `after.day` that come before (after.position, after.lineNo) within that day. */
  async netWithinDayBefore(line: StatementKey & { before: StatementLineKey }): Promise<bigint> {
    const r = await this.pool.query<Raw>(
      `SELECT coalesce(sum(CASE side WHEN 'debit' THEN amount_minor ELSE -amount_minor END), 0) AS net FROM ${this.t("entry_lines")}
        WHERE ledger_id = $1 AND code = $2 AND currency = $3 AND effective_date = $4::date AND (position, line_no) < ($5, $6)`,
      [line.ledgerId, line.code, line.currency, line.before.day, line.before.position, line.before.lineNo],
    );
    return big(r.rows[0]?.net ?? 0);
  }

  /** One account's lines in one currency, effective from `from` to `to` (inclusive), after the cursor's line, in statement order. */
  async statementLines(options: StatementKey & { from: string; to: string; after?: StatementLineKey | undefined; limit: number }): Promise<StatementLineRow[]> {
    const params: unknown[] = [options.ledgerId, options.code, options.currency, options.from, options.to];
    let cursor = "";
    if (options.after !== undefined) {
      params.push(options.after.day, options.after.position, options.after.lineNo);
      cursor = ` AND (l.effective_date, l.position, l.line_no) > ($6::date, $7, $8)`;
    }
    params.push(options.limit);
    const r = await this.pool.query<Raw>(
      `SELECT l.entry_id, to_char(l.effective_date, 'YYYY-MM-DD') AS effective_date, l.position, l.line_no, l.side, l.amount_minor, e.description
         FROM ${this.t("entry_lines")} l JOIN ${this.t("journal_entries")} e ON e.ledger_id = l.ledger_id AND e.entry_id = l.entry_id
        WHERE l.ledger_id = $1 AND l.code = $2 AND l.currency = $3 AND l.effective_date BETWEEN $4::date AND $5::date${cursor}
        ORDER BY l.effective_date, l.position, l.line_no LIMIT $${params.length}`,
      params,
    );
    return r.rows.map((row) => ({
      entryId: str(row.entry_id),
      effectiveDate: str(row.effective_date),
      position: str(row.position),
      lineNo: Number(row.line_no),
      side: str(row.side) === "debit" ? "debit" : "credit",
      amountMinor: big(row.amount_minor),
      description: str(row.description),
    }));
  }

  async currenciesOf(ledgerId: string, code: string): Promise<string[]> {
    const r = await this.pool.query<Raw>(`SELECT currency FROM ${this.t("balances")} WHERE ledger_id = $1 AND code = $2 ORDER BY currency`, [ledgerId, code]);
    return r.rows.map((row) => str(row.currency));
  }

  async entries(
    ledgerId: string,
    options: { from?: string | undefined; to?: string | undefined; account?: string | undefined; after?: { day: string; position: string } | undefined; limit: number },
  ): Promise<EntryRow[]> {
    const params: unknown[] = [ledgerId];
    const where = ["e.ledger_id = $1"];
    if (options.from !== undefined) {
      params.push(options.from);
      where.push(`e.effective_date >= $${params.length}::date`);
    }
    if (options.to !== undefined) {
      params.push(options.to);
      where.push(`e.effective_date <= $${params.length}::date`);
    }
    if (options.account !== undefined) {
      params.push(options.account);
      where.push(`EXISTS (SELECT 1 FROM ${this.t("entry_lines")} l WHERE l.ledger_id = e.ledger_id AND l.entry_id = e.entry_id AND l.code = $${params.length})`);
    }
    if (options.after !== undefined) {
      params.push(options.after.day, options.after.position);
      where.push(`(e.effective_date, e.position) > ($${params.length - 1}::date, $${params.length})`);
    }
    params.push(options.limit);
    const r = await this.pool.query<Raw>(
      `SELECT e.entry_id, to_char(e.effective_date, 'YYYY-MM-DD') AS effective_date, e.description, e.external_reference, e.metadata, e.lines,
              e.reverses, e.reversed_by, e.position
         FROM ${this.t("journal_entries")} e WHERE ${where.join(" AND ")}
        ORDER BY e.effective_date, e.position LIMIT $${params.length}`,
      params,
    );
    return r.rows.map((row) => ({
      entryId: str(row.entry_id),
      effectiveDate: str(row.effective_date),
      description: str(row.description),
      externalReference: row.external_reference === null ? null : str(row.external_reference),
      metadata: row.metadata as Record<string, string>,
      lines: row.lines as EntryRow["lines"],
      reverses: row.reverses === null ? null : str(row.reverses),
      reversedBy: row.reversed_by === null ? null : str(row.reversed_by),
      position: str(row.position),
    }));
  }

  /** Where an entry's event lives (for the command side's reversal lookup). */
  async entryLocation(ledgerId: string, entryId: string): Promise<{ streamName: string; revision: bigint } | undefined> {
    const r = await this.pool.query<Raw>(`SELECT stream_name, stream_revision FROM ${this.t("journal_entries")} WHERE ledger_id = $1 AND entry_id = $2`, [ledgerId, entryId]);
    const row = r.rows[0];
    return row === undefined ? undefined : { streamName: str(row.stream_name), revision: big(row.stream_revision) };
  }
}
