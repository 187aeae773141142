// The trial balance, given ledger events and the projection, against totals
// computed here from the same entries: when a large ledger is read as
// several code ranges side by side (narrowed limits reach that path with a
// few dozen accounts), when accounts are opened after the names were cached
// (codes sorting before, between and after the ranges), now and as of a date.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccountType, CurrencyCode, Side } from "@trueup/contracts";
import { formatMoney, money, requireCurrency } from "@trueup/contracts";
import { PostgresEventStore } from "@trueup/event-store";
import { ProjectionWorker, ledgerProjection } from "@trueup/projections";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { LedgerWriter, seededRandom } from "../../projections/test/fixtures/ledger-events.ts";
import type { EntrySpec } from "../../projections/test/fixtures/ledger-events.ts";
import { LedgerReader, trialBalanceJson, trialBalanceResponse } from "../src/index.ts";

// Byte order is not numeric order: "10" < "9", "Z_9" < "a".
const CODES = ["1", "10", "100", "1000", "11", "2", "20", "3.1", "9", "A", "A1", "A10", "A2", "B.2", "Z_9", "a", "b1", "zz"];
const CURRENCIES: CurrencyCode[] = ["EUR", "JPY", "KWD"].map((c) => requireCurrency(c).code);
const TYPES: AccountType[] = ["asset", "liability", "equity", "revenue", "expense"];

interface Expected {
  readonly type: Map<string, AccountType>;
  readonly nets: Map<string, bigint>;
  readonly entries: { effectiveDate: string; lines: EntrySpec["lines"] }[];
}

/** The trial balance computed from the entries themselves, with the contracts' formatter. */
function expectedTrialBalance(expected: Expected, asOf?: string) {
  const nets = new Map<string, bigint>();
  for (const entry of expected.entries) {
    if (asOf !== undefined && entry.effectiveDate > asOf) continue;
    for (const [code, side, amount, currency] of entry.lines) {
      const key = `${code}\u0000${currency}`;
      nets.set(key, (nets.get(key) ?? 0n) + (side === "debit" ? BigInt(amount) : -BigInt(amount)));
    }
  }
  const rows = [...nets]
    .filter(([, net]) => net !== 0n)
    .map(([key, net]) => {
      const [code = "", currency = ""] = key.split("\u0000");
      return { code, currency: currency as CurrencyCode, net };
    })
    .sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
  const zero = (c: CurrencyCode) => formatMoney(money(0n, c));
  const totals = new Map<CurrencyCode, { debit: bigint; credit: bigint }>();
  for (const r of rows) {
    const t = totals.get(r.currency) ?? { debit: 0n, credit: 0n };
    if (r.net > 0n) t.debit += r.net;
    else t.credit -= r.net;
    totals.set(r.currency, t);
  }
  return {
    asOf: asOf ?? null,
    rows: rows.map((r) => ({
      code: r.code,
      name: `Account ${r.code}`,
      type: expected.type.get(r.code),
      currency: r.currency,
      debit: r.net > 0n ? formatMoney(money(r.net, r.currency)) : zero(r.currency),
      credit: r.net < 0n ? formatMoney(money(-r.net, r.currency)) : zero(r.currency),
    })),
    totals: [...totals]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([currency, t]) => ({ currency, debit: formatMoney(money(t.debit, currency)), credit: formatMoney(money(t.credit, currency)), balanced: t.debit === t.credit })),
  };
}

describe("trial balance: given events, read in code ranges side by side", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let writer: LedgerWriter;
  const expected: Expected = { type: new Map(), nets: new Map(), entries: [] };
  const random = seededRandom(20261121);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

  async function open(code: string): Promise<void> {
    const type = pick(TYPES);
    expected.type.set(code, type);
    await writer.openAccount(code, type);
  }

  async function post(count: number, codes: readonly string[], day: () => string): Promise<void> {
    const entries: EntrySpec[] = [];
    for (let i = 0; i < count; i++) {
      const currency = pick(CURRENCIES);
      const amount = String(1 + Math.floor(random() * 1_000_000));
      const [debit, credit]: [string, string] = [pick(codes), pick(codes)];
      const lines: [string, Side, string, string][] = [
        [debit, "debit", amount, currency],
        [credit, "credit", amount, currency],
      ];
      const effectiveDate = day();
      entries.push({ entryId: `e${expected.entries.length + i}`, effectiveDate, lines });
    }
    // One append per period, as the command side writes them.
    for (const month of new Set(entries.map((e) => e.effectiveDate.slice(0, 7)))) await writer.post(...entries.filter((e) => e.effectiveDate.startsWith(month)));
    expected.entries.push(...entries);
  }

  const catchUp = () => new ProjectionWorker({ pool: db.pool, eventStore: store, projection: ledgerProjection }).runUntilCaughtUp();
  const parsed = async (reader: LedgerReader, asOf?: string) => trialBalanceResponse.parse(JSON.parse(await trialBalanceJson(reader, "tb", asOf)));

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    writer = new LedgerWriter(store, "tb");
    await writer.create();
    for (const code of CODES) await open(code);
    await post(300, CODES, () => `2026-0${1 + Math.floor(random() * 3)}-${String(1 + Math.floor(random() * 28)).padStart(2, "0")}`);
    await catchUp();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("is the same whether read whole or in ranges, now and as of a date, and matches the entries", async () => {
    const whole = new LedgerReader(db.pool, ledgerProjection.schemaName);
    const inRanges = new LedgerReader(db.pool, ledgerProjection.schemaName, { trialBalanceChunkAccounts: 4, trialBalanceChunksMax: 4 });
    const inMany = new LedgerReader(db.pool, ledgerProjection.schemaName, { trialBalanceChunkAccounts: 1, trialBalanceChunksMax: 100 });
    for (const asOf of [undefined, "2026-02-14", "2025-12-31"]) {
      const want = expectedTrialBalance(expected, asOf);
      expect(await parsed(whole, asOf)).toEqual(want);
      expect(await parsed(inRanges, asOf)).toEqual(want);
      expect(await parsed(inMany, asOf)).toEqual(want);
    }
    expect(expectedTrialBalance(expected).rows.length).toBeGreaterThan(CODES.length);
  });

  it("includes accounts opened after the names were cached, wherever their codes sort", async () => {
    const reader = new LedgerReader(db.pool, ledgerProjection.schemaName, { trialBalanceChunkAccounts: 4, trialBalanceChunksMax: 4 });
    expect(await parsed(reader)).toEqual(expectedTrialBalance(expected));
    // Before the first range, between ranges, after the last.
    const late = ["0", "1001", "9a", "zzz"];
    for (const code of late) await open(code);
    await post(40, late, () => "2026-03-30");
    await catchUp();
    const now = await parsed(reader);
    expect(now).toEqual(expectedTrialBalance(expected));
    expect(now.rows.map((r) => r.code)).toEqual(expect.arrayContaining(late));
  });
});
