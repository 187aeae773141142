// Proves, over a real PostgreSQL, a reconciliation run on an imported
// statement and posted entries: a dry run answers what a run would record
// and writes nothing; more items than a run may take is refused, writing
// nothing; a run records references as confirmed and an amount-and-date
// pair as a suggestion, the same whether its proposals go in one append or
// one per append; a second run finds nothing new (the items are in live
// matches); a rejected match is not proposed again; a bad window and an
// unknown account are refused. Through the HTTP API, except where a limit
// is set lower than the route's to reach it.
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrueupError, reconStream } from "@trueup/contracts";
import { MatchCommandService, PostgresMatchItemReader, runReconciliation } from "@trueup/command-side";
import { ledgerProjection, reconciliationProjection } from "@trueup/projections";
import { command, key } from "./ledger-support.ts";
import { seedReconciliationBook, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "rr";
const ACCOUNT = "rr_bank";
const CSV = ["Date,Amount,Reference", "2026-03-02,100.00,INV-1", "2026-03-03,250.00,INV-2", "2026-03-04,80.00,", "2026-03-05,999.00,"].join("\n") + "\n";

interface RunAnswer {
  dryRun: boolean;
  items: { external: number; internal: number };
  proposals: Record<string, number>;
  autoConfirmed: number;
  suggested: number;
  conflicts: number;
}

describe("a reconciliation run, through the API", () => {
  let p: ImportPlatform;
  const events = async (): Promise<number> => Number((await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events")).rows[0]?.n ?? "0");
  const runs = (body: unknown): Promise<LightMyRequestResponse> => command(p.app, `/bank-accounts/${ACCOUNT}/reconciliation-runs`, body, key());
  const recon = async () => (await p.store.readStream(reconStream(ACCOUNT))).map((e) => ({ type: e.type, data: e.data as { matchId: string; externalIds?: string[]; autoConfirmed?: boolean } }));

  beforeAll(async () => {
    p = await startImportPlatform();
    await seedReconciliationBook(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, csv: CSV, sales: [
      { entryId: "a1", amount: "100.00", date: "2026-03-02", reference: "INV-1" },
      { entryId: "a2", amount: "250.00", date: "2026-03-03", reference: "INV-2" },
      { entryId: "a3", amount: "80.00", date: "2026-03-04", reference: null },
    ] });
  });
  afterAll(async () => {
    await p.close();
  });

  it("answers a dry run without writing anything", async () => {
    const before = await events();
    const dry = await runs({ dryRun: true });
    expect(dry.statusCode, dry.body).toBe(201);
    expect(dry.json<RunAnswer>()).toMatchObject({ dryRun: true, items: { external: 4, internal: 3 }, proposals: { "1:1": 3 }, autoConfirmed: 2, suggested: 1, conflicts: 0 });
    expect(await events()).toBe(before);
  });

  const direct = (limits: { itemsPerSideMax?: number; proposalsPerAppendMax?: number }) =>
    runReconciliation(
      {
        store: p.store,
        service: new MatchCommandService({ store: p.store }),
        items: new PostgresMatchItemReader(p.db.pool, { reconciliation: reconciliationProjection.schemaName, ledger: ledgerProjection.schemaName }),
        limits,
      },
      { commandId: `direct-${key()}`, actor: "test", correlationId: "c", occurredAt: new Date() },
      ACCOUNT,
      { dryRun: false, from: null, to: null },
    );

  it("refuses more items than a run may take, writing nothing", async () => {
    const before = await events();
    const refused = await direct({ itemsPerSideMax: 3 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TrueupError);
    expect((refused as TrueupError).code).toBe("RECONCILIATION_RUN_TOO_LARGE");
    expect(await events()).toBe(before);
  });

  it("records references confirmed and an amount-and-date pair as a suggestion, one append per proposal, then finds nothing new", async () => {
    const first = await direct({ proposalsPerAppendMax: 1 });
    expect(first).toMatchObject({ dryRun: false, proposals: { "1:1": 3 }, autoConfirmed: 2, suggested: 1, conflicts: 0 });
    const written = await recon();
    expect(written.map((e) => e.type).sort()).toEqual(["MatchProposed", "MatchProposed", "MatchProposed", "ReconciliationRunRecorded"]);
    // The two references are confirmed in their proposals' own events (autoConfirmed), not by events of their own.
    expect(written.filter((e) => e.type === "MatchProposed" && e.data.autoConfirmed === true)).toHaveLength(2);
    const second = await runs({});
    expect(second.json<RunAnswer>()).toMatchObject({ items: { external: 1, internal: 0 }, proposals: { "1:1": 0 }, autoConfirmed: 0, suggested: 0 });
  });

  it("does not propose a rejected match again", async () => {
    const stream = await recon();
    const confirmed = new Set(stream.filter((e) => e.type === "MatchConfirmed" || (e.type === "MatchProposed" && e.data.autoConfirmed === true)).map((e) => e.data.matchId));
    const suggestion = stream.find((e) => e.type === "MatchProposed" && !confirmed.has(e.data.matchId));
    expect(suggestion).toBeDefined();
    const rejected = await command(p.app, `/matches/${suggestion?.data.matchId ?? ""}/reject`, { reason: "not this customer" });
    expect(rejected.statusCode, rejected.body).toBe(200);
    const again = await runs({});
    expect(again.json<RunAnswer>()).toMatchObject({ items: { external: 2, internal: 1 }, proposals: { "1:1": 1 }, suggested: 0, conflicts: 1 });
  });

  it("refuses a window that ends before it starts, and an unknown account", async () => {
    const bad = await runs({ from: "2026-03-10", to: "2026-03-01" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ code: string; path: string }>()).toMatchObject({ code: "VALIDATION_FAILED", path: "/to" });
    expect((await runs({ dryRun: "yes" })).statusCode).toBe(400);
    expect((await command(p.app, "/bank-accounts/nobody/reconciliation-runs", {})).json<{ code: string }>().code).toBe("BANK_ACCOUNT_NOT_FOUND");
  });
});
