// Proves the ledger projection, given real events in a PostgreSQL event
// store, then the read model: balances and per-day balances (exact beyond
// 64 bits), reversal links both ways, periods, closed accounts, entry lines;
// that batch boundaries do not change the result; and that the pure planner
// refuses an unbalanced entry, naming the event.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore, encodePosition } from "@trueup/event-store";
import type { RecordedEvent } from "@trueup/event-store";
import type { EventId, StreamName } from "@trueup/contracts";
import { ProjectionEventError, ProjectionWorker, ledgerProjection, planLedgerBatch } from "../src/index.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { LedgerWriter, entryData } from "./fixtures/ledger-events.ts";
import { snapshot } from "./fixtures/read-model.ts";

const BIG = "123456789012345678901234567890"; // 30 digits: far beyond any 64-bit integer
const TWO_BIG = (2n * BigInt(BIG)).toString();

describe("ledger projection: given events, then read model", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    await givenBook(new LedgerWriter(store, "L1"));
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection }).runUntilCaughtUp();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  const rows = async (sql: string): Promise<unknown[]> => (await db.pool.query<Record<string, unknown>>(sql)).rows;

  it("projects the ledger and its accounts, closed ones too", async () => {
    expect(await rows("SELECT ledger_id, name, base_currency FROM rm_ledger.ledgers")).toEqual([{ ledger_id: "L1", name: "Ledger L1", base_currency: "EUR" }]);
    expect(await rows("SELECT code, type, currency, status FROM rm_ledger.accounts ORDER BY code")).toEqual([
      { code: "1000", type: "asset", currency: null, status: "open" },
      { code: "1100", type: "asset", currency: "USD", status: "open" },
      { code: "2000", type: "liability", currency: null, status: "closed" },
      { code: "4000", type: "revenue", currency: null, status: "open" },
    ]);
  });

  it("keeps current balances per account and currency, exact beyond 64 bits", async () => {
    expect(await rows("SELECT code, currency, debit_minor, credit_minor, line_count FROM rm_ledger.balances ORDER BY code, currency")).toEqual([
      { code: "1000", currency: "EUR", debit_minor: "10500", credit_minor: "10000", line_count: "3" },
      { code: "1000", currency: "GBP", debit_minor: BIG, credit_minor: "0", line_count: "1" },
      { code: "1100", currency: "USD", debit_minor: "700", credit_minor: "0", line_count: "1" },
      { code: "2000", currency: "EUR", debit_minor: TWO_BIG, credit_minor: TWO_BIG, line_count: "4" },
      { code: "4000", currency: "EUR", debit_minor: "10000", credit_minor: "10500", line_count: "3" },
      { code: "4000", currency: "GBP", debit_minor: "0", credit_minor: BIG, line_count: "1" },
      { code: "4000", currency: "USD", debit_minor: "0", credit_minor: "700", line_count: "1" },
    ]);
    const net = await rows("SELECT currency, sum(debit_minor - credit_minor)::text AS net FROM rm_ledger.balances GROUP BY 1 ORDER BY 1");
    expect(net).toEqual([{ currency: "EUR", net: "0" }, { currency: "GBP", net: "0" }, { currency: "USD", net: "0" }]);
  });

  it("keeps per-day deltas by effective date, so a balance as of a date needs no replay", async () => {
    expect(await rows("SELECT day::text, debit_minor, credit_minor FROM rm_ledger.daily_balances WHERE code = '1000' AND currency = 'EUR' ORDER BY day")).toEqual([
      { day: "2025-01-10", debit_minor: "10500", credit_minor: "0" },
      { day: "2025-02-03", debit_minor: "0", credit_minor: "10000" },
    ]);
    const asOf = async (date: string): Promise<unknown[]> =>
      rows(`SELECT (sum(debit_minor) - sum(credit_minor))::text AS net FROM rm_ledger.daily_balances WHERE code = '1000' AND currency = 'EUR' AND day <= '${date}'`);
    expect(await asOf("2025-01-31")).toEqual([{ net: "10500" }]);
    expect(await asOf("2025-02-28")).toEqual([{ net: "500" }]);
  });

  it("links a reversal and its original both ways", async () => {
    expect(await rows("SELECT entry_id, reverses, reversed_by FROM rm_ledger.journal_entries ORDER BY position")).toEqual([
      { entry_id: "e1", reverses: null, reversed_by: "r1" },
      { entry_id: "e2", reverses: null, reversed_by: null },
      { entry_id: "big", reverses: null, reversed_by: null },
      { entry_id: "r1", reverses: "e1", reversed_by: null },
    ]);
    const [e1] = (await db.pool.query("SELECT * FROM rm_ledger.journal_entries WHERE entry_id = 'e1'")).rows as Record<string, unknown>[];
    expect(e1).toMatchObject({
      ledger_id: "L1", description: "entry e1", external_reference: null, metadata: { source: "test" }, stream_name: "period-L1:2025-01", stream_revision: "0",
      lines: [{ accountCode: "1000", side: "debit", amountMinor: "10000", currency: "EUR" }, { accountCode: "4000", side: "credit", amountMinor: "10000", currency: "EUR" }],
    });
    expect(e1?.recorded_at).toBeInstanceOf(Date);
  });

  it("writes one line row per journal line, numbered within its entry, for statements with running balances", async () => {
    expect(await rows("SELECT entry_id, line_no, code, currency, side, amount_minor, effective_date::text AS d FROM rm_ledger.entry_lines WHERE entry_id IN ('e2', 'r1') ORDER BY position, line_no")).toEqual([
      { entry_id: "e2", line_no: 1, code: "1000", currency: "EUR", side: "debit", amount_minor: "500", d: "2025-01-10" },
      { entry_id: "e2", line_no: 2, code: "4000", currency: "EUR", side: "credit", amount_minor: "500", d: "2025-01-10" },
      { entry_id: "e2", line_no: 3, code: "1100", currency: "USD", side: "debit", amount_minor: "700", d: "2025-01-10" },
      { entry_id: "e2", line_no: 4, code: "4000", currency: "USD", side: "credit", amount_minor: "700", d: "2025-01-10" },
      { entry_id: "r1", line_no: 1, code: "1000", currency: "EUR", side: "credit", amount_minor: "10000", d: "2025-02-03" },
      { entry_id: "r1", line_no: 2, code: "4000", currency: "EUR", side: "debit", amount_minor: "10000", d: "2025-02-03" },
    ]);
  });

  it("records periods: posted ones open, then the last close or reopen with its reason", async () => {
    expect(await rows("SELECT period, status, reason FROM rm_ledger.periods ORDER BY period")).toEqual([
      { period: "2025-01", status: "closed", reason: null },
      { period: "2025-02", status: "open", reason: "late invoice" },
      { period: "2025-03", status: "closed", reason: null },
    ]);
  });

  it("keeps text exactly as posted, whatever characters it holds (COPY escaping)", async () => {
    const odd = 'tab\there, line\nbreak, return\r, back\\slash \\N, "quotes", \\t literal, € 🧾';
    const l2 = new LedgerWriter(store, "L2");
    await l2.create("EUR");
    await l2.openAccount("1000", "asset");
    await l2.openAccount("4000", "revenue");
    await l2.post({ entryId: "odd", effectiveDate: "2025-04-01", description: odd, metadata: { [odd]: odd }, lines: [["1000", "debit", "1", "EUR"], ["4000", "credit", "1", "EUR"]] });
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection }).runUntilCaughtUp();
    expect(await rows("SELECT description, metadata FROM rm_ledger.journal_entries WHERE ledger_id = 'L2'")).toEqual([{ description: odd, metadata: { [odd]: odd } }]);
  });

  it("gives the same tables whatever the batch size (1 event per batch vs all at once)", async () => {
    const oneByOne = { ...ledgerProjection, schemaName: "rm_ledger_one" };
    await new ProjectionWorker({ pool: db.pool, eventStore: store, projection: oneByOne, batchSizeMax: 1 }).runUntilCaughtUp();
    const expected = await snapshot(db.pool, "rm_ledger");
    expect(await snapshot(db.pool, "rm_ledger_one")).toEqual(expected);
  });
});

async function givenBook(l1: LedgerWriter): Promise<void> {
  await l1.create("EUR");
  await l1.openAccount("1000", "asset");
  await l1.openAccount("1100", "asset", "USD");
  await l1.openAccount("2000", "liability");
  await l1.openAccount("4000", "revenue");
  await l1.post({ entryId: "e1", effectiveDate: "2025-01-10", lines: [["1000", "debit", "10000", "EUR"], ["4000", "credit", "10000", "EUR"]] });
  await l1.post({
    entryId: "e2",
    effectiveDate: "2025-01-10",
    lines: [["1000", "debit", "500", "EUR"], ["4000", "credit", "500", "EUR"], ["1100", "debit", "700", "USD"], ["4000", "credit", "700", "USD"]],
  });
  await l1.closePeriod("2025-01");
  await l1.reopenPeriod("2025-01", "missing accrual");
  await l1.closePeriod("2025-01");
  await l1.post({
    entryId: "big",
    effectiveDate: "2025-02-01",
    lines: [["2000", "debit", BIG, "EUR"], ["2000", "debit", BIG, "EUR"], ["2000", "credit", BIG, "EUR"], ["2000", "credit", BIG, "EUR"], ["1000", "debit", BIG, "GBP"], ["4000", "credit", BIG, "GBP"]],
  });
  await l1.claimReversal("e1", "r1");
  await l1.post({ entryId: "r1", effectiveDate: "2025-02-03", reverses: "e1", lines: [["1000", "credit", "10000", "EUR"], ["4000", "debit", "10000", "EUR"]] });
  await l1.closePeriod("2025-02");
  await l1.reopenPeriod("2025-02", "late invoice");
  await l1.closePeriod("2025-03");
  await l1.closeAccount("2000");
}

describe("ledger planner (pure)", () => {
  const recorded = (type: string, data: unknown, seq: bigint): RecordedEvent => ({
    eventId: "00000000-0000-4000-8000-000000000000" as EventId,
    type,
    schemaVersion: 1,
    data: data as never,
    metadata: { actor: "a", correlationId: "c", causationId: "c", commandId: "c", occurredAt: "2025-01-01T00:00:00Z" },
    streamName: "period-L1:2025-01" as StreamName,
    revision: seq,
    position: encodePosition(1n, seq),
    recordedAt: new Date(),
  });

  it("aggregates balance deltas per account and currency with bigint", () => {
    const line = (code: string, side: string, amountMinor: string): unknown => ({ accountCode: code, side, amountMinor, currency: "EUR" });
    const entry = (entryId: string): unknown => ({ ...(entryData("L1", { entryId, effectiveDate: "2025-01-02", lines: [] }) as object), lines: [line("1000", "debit", BIG), line("4000", "credit", BIG)] });
    const plan = planLedgerBatch([recorded("JournalEntryPosted", entry("a"), 1n), recorded("JournalEntryPosted", entry("b"), 2n)]);
    expect([...plan.balances.values()].map((b) => [b.code, b.debitMinor, b.creditMinor, b.lineCount])).toEqual([
      ["1000", 2n * BigInt(BIG), 0n, 2n],
      ["4000", 0n, 2n * BigInt(BIG), 2n],
    ]);
  });

  it("refuses an entry that does not balance per currency, naming the event's position", () => {
    const unbalanced = entryData("L1", { entryId: "u", effectiveDate: "2025-01-02", lines: [["1000", "debit", "100", "EUR"], ["4000", "credit", "100", "USD"]] });
    const event = recorded("JournalEntryPosted", unbalanced, 7n);
    expect(() => planLedgerBatch([event])).toThrow(ProjectionEventError);
    expect(() => planLedgerBatch([event])).toThrow(new RegExp(`${event.position}.*does not balance in (EUR|USD)`));
  });

  it("refuses an event version it has no upcaster for", () => {
    const event = { ...recorded("AccountClosed", { ledgerId: "L1", code: "1000" }, 1n), schemaVersion: 2 };
    expect(() => planLedgerBatch([event])).toThrow(/AccountClosed v2 is newer than this build knows \(v1\)/);
  });
});
