// Test support for the statement import: a composed Trueup (every service)
// over a fresh database, its event store optionally wrapped (faults), import
// limits as the test needs them; a ledger with a registered bank account
// (through the HTTP API, like a client); MT940 files written from a short
// description, their balances adding up unless told otherwise.
import { expect } from "vitest";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import type { JsonValue } from "@trueup/contracts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import type { Platform, PlatformOptions } from "./ledger-support.ts";
import { command, key, query, startPlatform } from "./ledger-support.ts";

/** A composed Trueup over a fresh database (see startPlatform), with the imports' limits as a test needs them. */
export type ImportPlatform = Platform;

export function startImportPlatform(options: Pick<PlatformOptions, "imports" | "wrap" | "poolMax"> = {}): Promise<ImportPlatform> {
  return startPlatform({ poolMax: 20, ...options });
}

export const IBAN = "DE89370400440532013000";
export const IBAN_2 = "GB82WEST12345698765432";

/** A ledger with account 1000 and a bank account on it (registered through the API). */
export async function setupBankAccount(app: FastifyInstance, options: { ledgerId: string; bankAccountId: string; iban?: string; accountNumber?: string; currency?: string; createLedger?: boolean }): Promise<void> {
  const currency = options.currency ?? "EUR";
  if (options.createLedger !== false) {
    expect((await command(app, "/ledgers", { ledgerId: options.ledgerId, name: options.ledgerId, baseCurrency: currency })).statusCode).toBe(201);
    expect((await command(app, `/ledgers/${options.ledgerId}/accounts`, { code: "1000", name: "Bank", type: "asset" })).statusCode).toBe(201);
  }
  const registered = await command(app, `/ledgers/${options.ledgerId}/bank-accounts`, {
    bankAccountId: options.bankAccountId,
    kind: "bank",
    name: options.bankAccountId,
    currency,
    ledgerAccount: "1000",
    ...(options.iban === undefined ? {} : { iban: options.iban }),
    ...(options.accountNumber === undefined ? {} : { accountNumber: options.accountNumber }),
  });
  expect(registered.statusCode, registered.body).toBe(201);
}

export function importFile(
  app: FastifyInstance,
  url: string,
  file: string | Buffer,
  options: { key?: string; query?: Record<string, string>; contentType?: string } = {},
): Promise<LightMyRequestResponse> {
  const query = new URLSearchParams(options.query ?? {}).toString();
  return app.inject({
    method: "POST",
    url: query === "" ? url : `${url}?${query}`,
    payload: typeof file === "string" ? Buffer.from(file, "utf8") : file,
    headers: { "idempotency-key": options.key ?? key(), "content-type": options.contentType ?? "application/octet-stream" },
  });
}

/** An event an import wrote, as stored. */
export interface StoredImportEvent {
  readonly streamName: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: JsonValue;
  readonly revision: bigint;
}

/**
 * Every event an import writes (statement batches and account commits), read
 * with SQL from the log's table: every committed row, not only what a log
 * reader sees below the visibility horizon, so "nothing was written" cannot
 * pass because a write is still held back.
 */
export async function importEvents(db: TestDatabase): Promise<StoredImportEvent[]> {
  const result = await db.pool.query<{ stream_name: string; type: string; schema_version: number; data: JsonValue; revision: string }>(
    "SELECT stream_name, type, schema_version, data, revision FROM es_events WHERE type IN ('StatementLinesRecorded', 'StatementImported') ORDER BY seq",
  );
  return result.rows.map((r) => ({ streamName: r.stream_name, type: r.type, schemaVersion: r.schema_version, data: r.data, revision: BigInt(r.revision) }));
}

export function countByType(events: readonly StoredImportEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) counts[e.type] = (counts[e.type] ?? 0) + 1;
  return counts;
}

// --- MT940 files --------------------------------------------------------------

export interface SampleLine {
  /** YYMMDD. */
  readonly date: string;
  readonly side: "C" | "D";
  /** Minor units. */
  readonly amountMinor: bigint;
  /** The bank's reference (after //), or none. */
  readonly ref?: string | undefined;
  readonly text?: string | undefined;
}

function mtAmount(minor: bigint): string {
  const digits = minor.toString().padStart(3, "0");
  return `${digits.slice(0, -2)},${digits.slice(-2)}`;
}

function mtBalance(tag: string, minor: bigint, date: string, currency: string): string {
  return `${tag}${minor < 0n ? "D" : "C"}${date}${currency}${mtAmount(minor < 0n ? -minor : minor)}`;
}

/** One MT940 message; its closing balance is opening + lines unless `closingMinor` says otherwise. */
export function mt940Message(options: {
  reference?: string;
  account?: string;
  sequence?: string;
  currency?: string;
  openingMinor?: bigint;
  openingDate: string;
  closingDate: string;
  closingMinor?: bigint;
  lines: readonly SampleLine[];
}): string {
  const currency = options.currency ?? "EUR";
  const opening = options.openingMinor ?? 0n;
  let closing = opening;
  for (const line of options.lines) closing += line.side === "C" ? line.amountMinor : -line.amountMinor;
  const out = [`:20:${options.reference ?? "STMT"}`, `:25:${options.account ?? IBAN}`, `:28C:${options.sequence ?? "1"}/1`, mtBalance(":60F:", opening, options.openingDate, currency)];
  for (const line of options.lines) {
    out.push(`:61:${line.date}${line.date.slice(2)}${line.side}${mtAmount(line.amountMinor)}NTRFNONREF${line.ref === undefined ? "" : `//${line.ref}`}`);
    out.push(`:86:${line.text ?? "payment"}`);
  }
  out.push(mtBalance(":62F:", options.closingMinor ?? closing, options.closingDate, currency));
  out.push("-");
  return out.join("\r\n") + "\r\n";
}

/** `count` lines on one day, alternating credits and debits of distinct amounts, each with its own bank reference. */
export function sampleLines(count: number, options: { date?: string; refPrefix?: string; from?: number } = {}): SampleLine[] {
  const from = options.from ?? 0;
  return Array.from({ length: count }, (_, i) => ({
    date: options.date ?? "240102",
    side: (from + i) % 2 === 0 ? ("C" as const) : ("D" as const),
    amountMinor: BigInt(100 + from + i),
    ref: `${options.refPrefix ?? "R"}${from + i}`,
    text: `line ${from + i}`,
  }));
}

/** A sale of `amount` on `date` (1000 debit, 4000 credit), with a reference the matcher can use when given. */
export interface Sale {
  readonly entryId: string;
  readonly amount: string;
  readonly date: string;
  readonly reference: string | null;
}

/**
 * A reconciliation book through the API: ledger with 1000 and 4000, a bank
 * account on 1000, a CSV profile (Date, Amount, Reference), `csv` imported,
 * `sales` posted; returns once both read models show every line and sale.
 */
export async function seedReconciliationBook(app: FastifyInstance, options: { ledgerId: string; bankAccountId: string; csv: string; sales: readonly Sale[] }): Promise<void> {
  const { ledgerId, bankAccountId } = options;
  await setupBankAccount(app, { ledgerId, bankAccountId, iban: IBAN });
  expect((await command(app, `/ledgers/${ledgerId}/accounts`, { code: "4000", name: "Sales", type: "revenue" })).statusCode).toBe(201);
  const columns = { bookingDate: "Date", amount: "Amount", bankReference: { names: ["Reference"], optional: false } };
  expect((await command(app, `/ledgers/${ledgerId}/csv-profiles`, { profileId: "simple", name: "Simple", currency: "EUR", dateFormat: "YYYY-MM-DD", columns })).statusCode).toBe(201);
  const imported = await importFile(app, `/bank-accounts/${bankAccountId}/statements`, options.csv, { query: { format: "csv", profile: "simple" } });
  expect(imported.statusCode, imported.body).toBe(201);
  for (const { entryId, amount, date, reference } of options.sales) {
    const posted = await command(app, `/ledgers/${ledgerId}/journal-entries`, {
      entryId, effectiveDate: date, description: `sale ${entryId}`, ...(reference === null ? {} : { externalReference: reference }),
      lines: [{ account: "1000", side: "debit", amount, currency: "EUR" }, { account: "4000", side: "credit", amount, currency: "EUR" }],
    });
    expect(posted.statusCode, posted.body).toBe(201);
  }
  const lineCount = options.csv.trimEnd().split("\n").length - 1;
  for (let tries = 0; ; tries++) {
    const lines = await query(app, `/bank-accounts/${bankAccountId}/lines`);
    const entries = await query(app, `/ledgers/${ledgerId}/journal-entries?account=1000`);
    const shown = (r: typeof lines): number => (r.statusCode === 200 ? r.json<{ items: unknown[] }>().items.length : -1);
    if (shown(lines) === lineCount && shown(entries) === options.sales.length) return;
    expect(tries, "the read models never caught up").toBeLessThan(200);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
