// Proves the reconciliation projection, given real events in a PostgreSQL
// event store, then the read model: bank accounts appear only once listed;
// a statement's lines are invisible until its StatementImported arrives and
// then appear whole, read from the statement's stream (several pages of it,
// through a store outage in the middle); a statement stream no
// StatementImported names (a crashed import) never becomes visible; a line id the account
// already shows keeps its first row; amounts stay exact beyond 64 bits and
// text exactly as sent; the account's counters and last statement follow;
// the tables are the same whatever the batch size, and a rebuild from zero
// equals the live tables; and a StatementImported that names lines the log
// does not hold before it (too few, written after it, of another statement
// or account) stops the projection (halted on it) instead of showing a
// statement with lines missing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { PostgresEventStore, StoreUnavailableError } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { statementStream } from "@trueup/contracts";
import { ProjectionWorker, qualified, reconciliationProjection, rebuildProjection } from "../src/index.ts";
import { STATEMENT_READ_PAGE_EVENTS } from "../src/reconciliation/write.ts";
import { withOverrides } from "../../test-support/event-store.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { balanceData, commitStatement, importStatement, lineData, reconciliationEvent, registerBankAccount, uuidOf } from "../../test-support/reconciliation-events.ts";

const BIG = "123456789012345678901234567890"; // 30 digits: far beyond any 64-bit integer
const TABLES = ["bank_accounts", "statements", "statement_lines"] as const;

async function snapshot(pool: pg.Pool, schemaName: string): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const table of TABLES) {
    const { rows } = await pool.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM ${qualified(schemaName, table)} t ORDER BY 1`);
    result[table] = rows.map((r) => r.row);
  }
  const checkpoint = await pool.query<{ row: string }>(`SELECT jsonb_build_object('position', position, 'events_applied', events_applied)::text AS row FROM ${qualified(schemaName, "checkpoint")}`);
  result.checkpoint = checkpoint.rows.map((r) => r.row);
  return result;
}

/** Runs `test` on a fresh database with a PostgreSQL event store on it; both are gone afterwards. */
async function withFreshStore(test: (db: TestDatabase, store: PostgresEventStore) => Promise<void>): Promise<void> {
  const db = await createTestDatabase();
  const store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  try {
    await test(db, store);
  } finally {
    await store.close();
    await db.drop();
  }
}

describe("reconciliation projection: given events, then read model", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const project = (schemaName = "rm_reconciliation", batchSizeMax?: number): Promise<void> =>
    new ProjectionWorker({ pool: db.pool, eventStore: store, projection: { ...reconciliationProjection, schemaName }, ...(batchSizeMax === undefined ? {} : { batchSizeMax }) }).runUntilCaughtUp();
  const rows = async (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> => (await db.pool.query<Record<string, unknown>>(sql, params)).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("shows a bank account only once it is registered and listed", async () => {
    await registerBankAccount(store, { bankAccountId: "ba1", ledgerId: "L1" });
    await registerBankAccount(store, { bankAccountId: "unlisted", ledgerId: "L1", iban: null, accountNumber: "123 456" , listed: false });
    await project();
    expect(await rows("SELECT bank_account_id, ledger_id, listed, identifiers, statement_count, line_count, last_statement_id FROM rm_reconciliation.bank_accounts ORDER BY 1")).toEqual([
      { bank_account_id: "ba1", ledger_id: "L1", listed: true, identifiers: ["DE89370400440532013000"], statement_count: "0", line_count: "0", last_statement_id: null },
      { bank_account_id: "unlisted", ledger_id: "L1", listed: false, identifiers: null, statement_count: "0", line_count: "0", last_statement_id: null },
    ]);
  });

  it("shows nothing of a statement's lines until its StatementImported, then them all at once, read from its stream", async () => {
    const statementId = uuidOf("s1");
    const lines = Array.from({ length: 7 }, (_, i) => lineData(i + 1));
    await importStatement(store, { statementId, bankAccountId: "ba1", ledgerId: "L1", lines, linesPerBatch: 3, commit: false });
    await project();
    expect(await rows("SELECT count(*)::int AS n FROM rm_reconciliation.statement_lines")).toEqual([{ n: 0 }]);
    expect(await rows("SELECT count(*)::int AS n FROM rm_reconciliation.statements")).toEqual([{ n: 0 }]);
    // Nothing of the batches is kept anywhere before the commit: the read model has no staging table.
    expect(await rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'rm_reconciliation' ORDER BY 1")).toEqual(
      ["bank_accounts", "checkpoint", "dead_letters", "statement_lines", "statements"].map((table_name) => ({ table_name })),
    );

    await commitStatement(store, { statementId, bankAccountId: "ba1", ledgerId: "L1", lines, linesPerBatch: 3 });
    await project();
    expect(await rows("SELECT line_number, line_id, ledger_id FROM rm_reconciliation.statement_lines ORDER BY line_number")).toEqual(
      lines.map((l) => ({ line_number: l.lineNumber, line_id: l.lineId, ledger_id: "L1" })),
    );
    expect(await rows("SELECT statement_count, line_count, last_statement_id FROM rm_reconciliation.bank_accounts WHERE bank_account_id = 'ba1'")).toEqual([
      { statement_count: "1", line_count: "7", last_statement_id: statementId },
    ]);
  });
});

describe("reconciliation projection: a statement of many pages, through a store outage", () => {
  it("reads every page of the stream, retries a read the store could not answer, and shows each line once", () => withFreshStore(async (db, store) => {
    await registerBankAccount(store, { bankAccountId: "acc", ledgerId: "L1" });
    // One line per batch: pages of STATEMENT_READ_PAGE_EVENTS, the last one short.
    const pages = 3;
    const first = Array.from({ length: STATEMENT_READ_PAGE_EVENTS * (pages - 1) + 3 }, (_, i) => lineData(i + 1));
    await importStatement(store, { statementId: uuidOf("paged"), bankAccountId: "acc", ledgerId: "L1", lines: first, linesPerBatch: 1 });
    // A second statement repeating the first one's last line id: the duplicate path reads its pages again.
    const second = Array.from({ length: STATEMENT_READ_PAGE_EVENTS + 2 }, (_, i) => lineData(first.length + i, { lineNumber: i + 1 }));
    await importStatement(store, { statementId: uuidOf("paged-overlap"), bankAccountId: "acc", ledgerId: "L1", lines: second, linesPerBatch: 1, header: { periodStart: "2026-02-01", periodEnd: "2026-02-28" } });
    let reads = 0;
    // The store goes away for the second and fourth page reads (mid-COPY), then comes back.
    const flaky = withOverrides(store, {
      readStream: async (stream, options) => {
        reads += 1;
        if (reads === 2 || reads === 4) throw new StoreUnavailableError("event store unavailable: connection refused (test)");
        return store.readStream(stream, options);
      },
    });
    const worker = new ProjectionWorker({ pool: db.pool, eventStore: flaky, projection: reconciliationProjection, retry: { attemptsMax: 5, delayFirstMs: 1, delayMaxMs: 5 } });
    await worker.runUntilCaughtUp();
    expect(reads).toBeGreaterThan(4);
    const shown = await db.pool.query<{ statement_id: string; line_number: number; line_id: string }>("SELECT statement_id, line_number, line_id FROM rm_reconciliation.statement_lines ORDER BY statement_id = $1 DESC, line_number", [uuidOf("paged")]);
    expect(shown.rows).toEqual([
      ...first.map((l) => ({ statement_id: uuidOf("paged"), line_number: l.lineNumber, line_id: l.lineId })),
      ...second.slice(1).map((l) => ({ statement_id: uuidOf("paged-overlap"), line_number: l.lineNumber, line_id: l.lineId })),
    ]);
    expect((await db.pool.query("SELECT statement_id, new_lines, lines_visible FROM rm_reconciliation.statements ORDER BY statement_id = $1 DESC", [uuidOf("paged")])).rows).toEqual([
      { statement_id: uuidOf("paged"), new_lines: first.length, lines_visible: first.length },
      { statement_id: uuidOf("paged-overlap"), new_lines: second.length, lines_visible: second.length - 1 },
    ]);
    expect((await db.pool.query("SELECT line_count FROM rm_reconciliation.bank_accounts")).rows).toEqual([{ line_count: String(first.length + second.length - 1) }]);
  }));
});

describe("reconciliation projection: every field, crashed imports, duplicates, batch sizes, rebuild", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const project = (schemaName = "rm_reconciliation", batchSizeMax?: number): Promise<void> =>
    new ProjectionWorker({ pool: db.pool, eventStore: store, projection: { ...reconciliationProjection, schemaName }, ...(batchSizeMax === undefined ? {} : { batchSizeMax }) }).runUntilCaughtUp();
  const rows = async (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> => (await db.pool.query<Record<string, unknown>>(sql, params)).rows;
  const odd = 'tab\there, line\nbreak, return\r, back\\slash \\N, "quotes", € 🧾';

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    await registerBankAccount(store, { bankAccountId: "acc", ledgerId: "L1" });
    await registerBankAccount(store, { bankAccountId: "usd", ledgerId: "L2", currency: "USD", iban: null, accountNumber: "000123456" });
    // January: 1,200 lines in 3 batches, one with a 30-digit amount, odd text, a batch, a DEM line, undated lines.
    const january = Array.from({ length: 1200 }, (_, i) => lineData(i + 1));
    january[0] = lineData(1, { amountMinor: BIG, description: odd, raw: odd, attributes: { [odd]: odd } });
    january[1] = lineData(2, { batch: { id: "NTRY-7", index: 0, size: 2, amountMinor: "3000", side: "debit" }, chargesMinor: "250", currency: "DEM" });
    january[2] = lineData(3, { bookingDate: null, valueDate: null, bankReference: null, lineId: "hash:0123456789abcdef0123456789abcdef#1" });
    await importStatement(store, { statementId: uuidOf("jan"), bankAccountId: "acc", ledgerId: "L1", lines: january });
    // A crashed import: batches written, never committed.
    await importStatement(store, { statementId: uuidOf("crashed"), bankAccountId: "acc", ledgerId: "L1", lines: [lineData(5000), lineData(5001)], commit: false });
    // February overlaps January by one line id (REF1200#1 again) and brings two new ones; it comes with failed checks accepted.
    const february = [lineData(1200, { lineNumber: 1, amountMinor: "1" }), lineData(1201, { lineNumber: 2 }), lineData(1202, { lineNumber: 3 })];
    await importStatement(store, {
      statementId: uuidOf("feb"), bankAccountId: "acc", ledgerId: "L1", lines: february,
      header: {
        periodStart: "2026-02-01", periodEnd: "2026-02-28", sequenceNumber: "2", closingBalance: balanceData("42", "debit", "2026-02-28"),
        acceptedWithFailedChecks: true,
        checks: [{ check: "continuity", status: "failed", code: "STATEMENT_DISCONTINUOUS", message: "previous closing 1.00 EUR, this opening 2.00 EUR", expected: "1.00 EUR", actual: "2.00 EUR", location: { line: 12, record: ":60F:" } }],
      },
    });
    // An older statement imported later (period before February's) does not become the last one.
    await importStatement(store, { statementId: uuidOf("dec"), bankAccountId: "acc", ledgerId: "L1", lines: [lineData(9000, { lineNumber: 1 })], header: { periodStart: "2025-12-01", periodEnd: "2025-12-31" } });
    // An overlapping statement with nothing new: no batches at all.
    await importStatement(store, { statementId: uuidOf("nothing-new"), bankAccountId: "acc", ledgerId: "L1", lines: [], header: { lineCount: 5, newLines: 0, knownLines: 5, batches: 0, periodEnd: "2026-01-15" } });
    await importStatement(store, { statementId: uuidOf("usd1"), bankAccountId: "usd", ledgerId: "L2", lines: [lineData(1, { currency: "USD" })], header: { currency: "USD" } });
    await project();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("writes every field of a line, exact beyond 64 bits and with text as sent", async () => {
    const [first] = await rows("SELECT * FROM rm_reconciliation.statement_lines WHERE bank_account_id = 'acc' AND line_id = 'ref:REF1#1'");
    expect(first).toMatchObject({ amount_minor: BIG, description: odd, raw: odd, attributes: { [odd]: odd }, side: "credit", currency: "EUR" });
    const [second] = await rows(
      `SELECT amount_minor, currency, charges_minor, batch_id, batch_index, batch_size, batch_amount_minor, batch_side, to_char(booking_date, 'YYYY-MM-DD') AS booking, to_char(value_date, 'YYYY-MM-DD') AS value,
              reversal, bank_reference, end_to_end_id, creditor_reference, remittance_information, counterparty_name, counterparty_iban, counterparty_bic, bank_codes, location
         FROM rm_reconciliation.statement_lines WHERE line_id = 'ref:REF2#1'`,
    );
    expect(second).toEqual({
      amount_minor: "1002", currency: "DEM", charges_minor: "250", batch_id: "NTRY-7", batch_index: 0, batch_size: 2, batch_amount_minor: "3000", batch_side: "debit",
      booking: "2026-01-03", value: "2026-01-04", reversal: false, bank_reference: "REF2", end_to_end_id: "E2E-2", creditor_reference: null, remittance_information: "Invoice 2",
      counterparty_name: "Customer 2", counterparty_iban: "DE89370400440532013000", counterparty_bic: "COBADEFFXXX",
      bank_codes: { domain: "PMNT", family: "RCDT", subFamily: "ESCT", proprietary: null, proprietaryIssuer: null, swift: null, bai2: null, ofx: null, psp: null },
      location: { line: 20, element: "/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]" },
    });
    expect(await rows("SELECT booking_date, value_date, sort_date::text AS sort_date FROM rm_reconciliation.statement_lines WHERE line_number = 3 AND bank_reference IS NULL")).toEqual([{ booking_date: null, value_date: null, sort_date: "-infinity" }]);
  });

  it("never shows a crashed import's lines", async () => {
    expect(await rows("SELECT count(*)::int AS n FROM rm_reconciliation.statement_lines WHERE statement_id = $1", [uuidOf("crashed")])).toEqual([{ n: 0 }]);
    expect(await rows("SELECT count(*)::int AS n FROM rm_reconciliation.statements WHERE statement_id = $1", [uuidOf("crashed")])).toEqual([{ n: 0 }]);
  });

  it("keeps the first row of a line id the account already shows", async () => {
    expect(await rows("SELECT statement_id, amount_minor FROM rm_reconciliation.statement_lines WHERE bank_account_id = 'acc' AND line_id = 'ref:REF1200#1'")).toEqual([{ statement_id: uuidOf("jan"), amount_minor: "2200" }]);
    expect(await rows("SELECT new_lines, lines_visible FROM rm_reconciliation.statements WHERE statement_id = $1", [uuidOf("feb")])).toEqual([{ new_lines: 3, lines_visible: 2 }]);
  });

  it("records every statement field: balances, totals, counts, checks, source", async () => {
    const [feb] = await rows("SELECT * FROM rm_reconciliation.statements WHERE statement_id = $1", [uuidOf("feb")]);
    expect(feb).toMatchObject({
      bank_account_id: "acc", ledger_id: "L1", format: "camt.053", file_bytes: "1234", file_name: "statement.xml", encoding: "UTF-8", section: 0,
      account_iban: "DE89370400440532013000", currency: "EUR", sequence_number: "2", closing_minor: "42", closing_side: "debit", closing_currency: "EUR",
      opening_minor: "100000", opening_side: "credit", available_minor: null, line_count: 3, new_lines: 3, known_lines: 0, batches: 1,
      accepted_with_failed_checks: true,
      checks: [{ check: "continuity", status: "failed", code: "STATEMENT_DISCONTINUOUS", message: "previous closing 1.00 EUR, this opening 2.00 EUR", expected: "1.00 EUR", actual: "2.00 EUR", location: { line: 12, record: ":60F:" } }],
    });
    expect(feb?.recorded_at).toBeInstanceOf(Date);
  });

  it("counts statements and visible lines per account, and names the statement of the latest period as the last", async () => {
    expect(await rows("SELECT bank_account_id, statement_count, line_count, last_statement_id, to_char(last_period_end, 'YYYY-MM-DD') AS last_period_end, last_closing_minor, last_closing_side, last_closing_currency FROM rm_reconciliation.bank_accounts ORDER BY 1")).toEqual([
      { bank_account_id: "acc", statement_count: "4", line_count: String(1200 + 2 + 1), last_statement_id: uuidOf("feb"), last_period_end: "2026-02-28", last_closing_minor: "42", last_closing_side: "debit", last_closing_currency: "EUR" },
      { bank_account_id: "usd", statement_count: "1", line_count: "1", last_statement_id: uuidOf("usd1"), last_period_end: "2026-01-31", last_closing_minor: "101001", last_closing_side: "credit", last_closing_currency: "EUR" },
    ]);
  });

  it("gives the same tables whatever the batch size (1 event per batch vs 1000)", async () => {
    await project("rm_recon_one", 1);
    await project("rm_recon_all", 1000);
    const expected = await snapshot(db.pool, "rm_reconciliation");
    expect(await snapshot(db.pool, "rm_recon_one")).toEqual(expected);
    expect(await snapshot(db.pool, "rm_recon_all")).toEqual(expected);
  });

  it("rebuilds from zero into tables equal to the live ones", async () => {
    const before = await snapshot(db.pool, "rm_reconciliation");
    const { builtAs } = await rebuildProjection({ pool: db.pool, eventStore: store, projection: reconciliationProjection });
    expect(builtAs).toMatch(/^rm_reconciliation__build_\d+$/);
    expect(await snapshot(db.pool, "rm_reconciliation")).toEqual(before);
  });
});

describe("reconciliation projection: a statement stream that is not what its StatementImported names", () => {
  const cases: { name: string; error: RegExp; write: (store: EventStore) => Promise<void> }[] = [
    {
      name: "its batches hold fewer lines than it names",
      error: /its batches hold every new line it names/,
      write: async (store) => {
        const lines = [lineData(1), lineData(2)];
        // The StatementImported names 2 batches and 3 new lines; the log holds 2 batches of 1.
        await importStatement(store, { statementId: uuidOf("short"), bankAccountId: "acc", ledgerId: "L1", lines, linesPerBatch: 1, commit: false });
        await commitStatement(store, { statementId: uuidOf("short"), bankAccountId: "acc", ledgerId: "L1", lines, linesPerBatch: 1, header: { newLines: 3, lineCount: 3 } });
      },
    },
    {
      name: "its batch was written after it",
      error: /every StatementLinesRecorded batch it names is in the log before it/,
      write: async (store) => {
        const lines = [lineData(1)];
        await commitStatement(store, { statementId: uuidOf("late"), bankAccountId: "acc", ledgerId: "L1", lines });
        await importStatement(store, { statementId: uuidOf("late"), bankAccountId: "acc", ledgerId: "L1", lines, commit: false });
      },
    },
    {
      name: "its stream holds no batch at all",
      error: /every StatementLinesRecorded batch it names is in the log before it/,
      write: async (store) => {
        await commitStatement(store, { statementId: uuidOf("empty"), bankAccountId: "acc", ledgerId: "L1", lines: [lineData(1)] });
      },
    },
    {
      name: "its batch names another bank account",
      error: /its line batches name the bank account its StatementImported names/,
      write: async (store) => {
        const lines = [lineData(1)];
        await importStatement(store, { statementId: uuidOf("other"), bankAccountId: "elsewhere", ledgerId: "L1", lines, commit: false });
        await commitStatement(store, { statementId: uuidOf("other"), bankAccountId: "acc", ledgerId: "L1", lines });
      },
    },
    {
      name: "its stream holds another statement's batch",
      error: /its stream holds only its own line batches/,
      write: async (store) => {
        const batch = reconciliationEvent("StatementLinesRecorded", { statementId: uuidOf("someone-else"), bankAccountId: "acc", batchIndex: 0, lines: [lineData(1)] });
        await store.append(statementStream(uuidOf("mixed")), [batch], { expectedRevision: "no-stream" });
        await commitStatement(store, { statementId: uuidOf("mixed"), bankAccountId: "acc", ledgerId: "L1", lines: [lineData(1)] });
      },
    },
  ];

  for (const c of cases) {
    it(`stops on it when ${c.name} (a dead letter, nothing of it applied)`, () => withFreshStore(async (db, store) => {
      await registerBankAccount(store, { bankAccountId: "acc", ledgerId: "L1" });
      await c.write(store);
      const worker = new ProjectionWorker({ pool: db.pool, eventStore: store, projection: reconciliationProjection });
      await expect(worker.runUntilCaughtUp()).rejects.toThrow(c.error);
      expect(worker.status.state).toBe("halted");
      expect((await db.pool.query("SELECT count(*)::int AS n FROM rm_reconciliation.statement_lines")).rows).toEqual([{ n: 0 }]);
      expect((await db.pool.query("SELECT count(*)::int AS n FROM rm_reconciliation.statements")).rows).toEqual([{ n: 0 }]);
      expect((await db.pool.query("SELECT statement_count FROM rm_reconciliation.bank_accounts")).rows).toEqual([{ statement_count: "0" }]);
      expect((await db.pool.query("SELECT count(*)::int AS n FROM rm_reconciliation.dead_letters WHERE status = 'blocking'")).rows).toEqual([{ n: 1 }]);
    }));
  }
});
