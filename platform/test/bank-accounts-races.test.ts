// A registration cut in the middle, over a real PostgreSQL through the HTTP
// API: the real store with hooks that run exactly between the registration's
// steps (after it read the ledger's listing; when it appends the listing).
// Proves: an outage after the id is claimed and before the account is listed
// answers 503 with Retry-After, keeps no answer under the key, leaves an
// account no reader returns, and the retry with the same key completes it
// (same id, one registration event); an IBAN taken by another registration
// meanwhile is refused by the listing's expected revision (409 naming the
// winner), leaving ours registered but not active and its identifier free of
// it; a ledger account closed meanwhile is caught by the listing's guard on
// the ledger stream (422 ACCOUNT_CLOSED), not linked. Also: readBankAccount
// returns the statements imported to the account, and previousStatement
// picks the one a new import follows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { PostgresEventStore, StoreUnavailableError } from "@trueup/event-store";
import type { EventStore, NewEvent, TransactionalAppend } from "@trueup/event-store";
import { bankAccountStream, ledgerBankAccountsStream } from "@trueup/contracts";
import type { StreamName } from "@trueup/contracts";
import { previousStatement, readBankAccount, readLedgerBankAccounts } from "../../command-side/src/reconciliation/bank-accounts/index.ts";
import { withOverrides } from "../../test-support/event-store.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { compose } from "../src/compose.ts";
import type { Composed } from "../src/compose.ts";
import { command, key } from "./ledger-support.ts";

type Hook = () => Promise<void>;

/** The real store; `afterRead` runs once after a read of the stream returns, `onAppend` once instead of an append to it (throw to fail it). */
function hooked(store: PostgresEventStore) {
  let afterRead: { stream: string; run: Hook } | undefined;
  let onAppend: { stream: string; run: Hook } | undefined;
  const takeAppendHook = async (stream: string): Promise<void> => {
    const hook = onAppend;
    if (hook?.stream !== stream) return;
    onAppend = undefined;
    await hook.run();
  };
  const transactional = store.capabilities.transactionalAppend;
  if (transactional === undefined) throw new Error("the PostgreSQL store appends transactionally");
  const wrappedTransactional: TransactionalAppend = {
    append: async (stream, events, options, companion) => {
      await takeAppendHook(stream);
      return transactional.append(stream, events, options, companion);
    },
  };
  const wrapped: EventStore = withOverrides(store, {
    capabilities: { transactionalAppend: wrappedTransactional },
    readStream: async (stream, options) => {
      const events = await store.readStream(stream, options);
      const hook = afterRead;
      if (hook?.stream === stream) {
        afterRead = undefined;
        await hook.run();
      }
      return events;
    },
    append: async (stream: StreamName, events: readonly NewEvent[], options) => {
      await takeAppendHook(stream);
      return store.append(stream, events, options);
    },
    close: () => Promise.resolve(),
  });
  return {
    store: wrapped,
    afterRead: (stream: string, run: Hook) => {
      afterRead = { stream, run };
    },
    onAppend: (stream: string, run: Hook) => {
      onAppend = { stream, run };
    },
  };
}

interface Answer {
  bankAccountId: string;
  replayed: boolean;
  code?: string;
  bankAccountId_?: string;
}

describe("a bank account registration cut between its streams", () => {
  let db: TestDatabase;
  let real: PostgresEventStore;
  let composed: Composed;
  let app: FastifyInstance;
  let hooks: ReturnType<typeof hooked>;
  const ledgerId = "cuts";
  const listing = ledgerBankAccountsStream(ledgerId);
  const register = (payload: Record<string, unknown>, idempotencyKey: string = key()): Promise<LightMyRequestResponse> =>
    command(app, `/ledgers/${ledgerId}/bank-accounts`, { kind: "bank", name: "Bank", currency: "EUR", ledgerAccount: "1000", ...payload }, idempotencyKey);
  const storedAnswers = async (k: string): Promise<number> => {
    const rows = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM cmd_idempotency WHERE key = $1 AND status_code IS NOT NULL", [k]);
    return Number(rows.rows[0]?.n ?? "0");
  };

  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 10 });
    real = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    hooks = hooked(real);
    composed = await compose({ services: ["command"], logLevel: "silent", pool: db.pool, eventStore: hooks.store, ping: () => Promise.resolve() });
    app = composed.app;
    expect((await command(app, "/ledgers", { ledgerId, name: "Cuts", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const code of ["1000", "1010"]) expect((await command(app, `/ledgers/${ledgerId}/accounts`, { code, name: code, type: "asset" })).statusCode).toBe(201);
  });
  afterAll(async () => {
    await composed.close();
    await real.close();
    await db.drop();
  });

  it("an outage when listing: 503 with Retry-After, no answer kept, not active; the retry with the same key completes it with the same id", async () => {
    const k = key();
    hooks.onAppend(listing, () => Promise.reject(new StoreUnavailableError("connection lost (injected)")));
    const cut = await register({ bankAccountId: "cut_1", iban: "DE89370400440532013000" }, k);
    expect(cut.statusCode, cut.body).toBe(503);
    expect(cut.headers["retry-after"]).toBeDefined();
    expect(await storedAnswers(k)).toBe(0);
    expect(await real.readStream(bankAccountStream("cut_1"))).toHaveLength(1);
    expect(await readBankAccount(real, "cut_1")).toBeUndefined();
    expect((await readLedgerBankAccounts(real, ledgerId)).has("DE89370400440532013000")).toBe(false);

    const retry = await register({ bankAccountId: "cut_1", iban: "DE89370400440532013000" }, k);
    expect(retry.statusCode, retry.body).toBe(201);
    expect(retry.json<Answer>()).toMatchObject({ bankAccountId: "cut_1", replayed: false });
    expect(await real.readStream(bankAccountStream("cut_1"))).toHaveLength(1);
    expect(await readBankAccount(real, "cut_1")).toMatchObject({ bankAccountId: "cut_1", iban: "DE89370400440532013000", revision: 0n });
    expect((await readLedgerBankAccounts(real, ledgerId)).get("DE89370400440532013000")).toBe("cut_1");
  });

  it("the IBAN taken by another registration after ours read the listing: 409 naming the winner; ours stays registered, not active", async () => {
    const iban = "GB82WEST12345698765432";
    let winner: LightMyRequestResponse | undefined;
    hooks.afterRead(listing, async () => {
      winner = await register({ bankAccountId: "winner", iban });
    });
    const late = await register({ bankAccountId: "late", iban });
    expect(winner?.statusCode, winner?.body).toBe(201);
    expect(late.statusCode, late.body).toBe(409);
    expect(late.json<Record<string, unknown>>()).toMatchObject({ code: "BANK_ACCOUNT_IDENTIFIER_TAKEN", bankAccountId: "winner", identifier: iban, path: "/iban" });
    // The claim of the id landed; the listing did not: no reader returns it.
    expect(await real.readStream(bankAccountStream("late"))).toHaveLength(1);
    expect(await readBankAccount(real, "late")).toBeUndefined();
    expect((await readLedgerBankAccounts(real, ledgerId)).get(iban)).toBe("winner");
  });

  it("the ledger account closed after ours read the ledger: the listing's guard refuses it, 422 ACCOUNT_CLOSED, not linked", async () => {
    let closed: number | undefined;
    hooks.afterRead(listing, async () => {
      closed = (await command(app, `/ledgers/${ledgerId}/accounts/1010/close`, {})).statusCode;
    });
    const r = await register({ bankAccountId: "on_closed", accountNumber: "778899", ledgerAccount: "1010" });
    expect(closed).toBe(200);
    expect(r.statusCode, r.body).toBe(422);
    expect(r.json<Answer>().code).toBe("ACCOUNT_CLOSED");
    expect(await readBankAccount(real, "on_closed")).toBeUndefined();
    expect((await readLedgerBankAccounts(real, ledgerId)).has("778899")).toBe(false);
  });

  it("readBankAccount returns the statements imported to the account; previousStatement picks the latest by period end and sequence, never the same file section or an interim report", async () => {
    expect((await register({ bankAccountId: "with_statements", accountNumber: "555" })).statusCode).toBe(201);
    const stream = bankAccountStream("with_statements");
    const imported = (n: number, extra: Record<string, unknown>) => ({
      eventId: `00000000-0000-8000-8000-${n.toString().padStart(12, "0")}` as NewEvent["eventId"],
      type: "StatementImported",
      schemaVersion: 1,
      data: {
        statementId: `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`,
        bankAccountId: "with_statements",
        ledgerId,
        format: "mt940",
        source: { fileSha256: "a".repeat(64), fileBytes: 100, fileName: null, encoding: "utf-8", section: n },
        account: { iban: null, accountNumber: "555", bankId: null },
        currency: "EUR",
        statementReference: null,
        sequenceNumber: String(n),
        pageNumber: null,
        createdAt: null,
        periodStart: "2026-03-01",
        periodEnd: "2026-03-31",
        openingBalance: null,
        closingBalance: { amountMinor: String(n * 100), side: "credit", currency: "EUR", date: "2026-03-31" },
        availableBalance: null,
        lineCount: 3,
        newLines: 3,
        knownLines: 0,
        batches: 1,
        totals: { creditsMinor: "0", debitsMinor: "0", credits: 0, debits: 0 },
        checks: [],
        acceptedWithFailedChecks: false,
        ...extra,
      },
      metadata: { actor: "test", correlationId: "c", causationId: "c", commandId: `import-${n}`, occurredAt: new Date().toISOString() },
    });
    await real.append(stream, [imported(2, { periodEnd: "2026-04-30", periodStart: "2026-04-01" }), imported(1, {}), imported(3, { format: "camt.052", periodStart: "2026-05-02", periodEnd: "2026-05-02" })], { expectedRevision: 0n });
    const state = await readBankAccount(real, "with_statements");
    expect(state?.revision).toBe(3n);
    expect(state?.statements.map((s) => [s.sequenceNumber, s.periodEnd, s.closingBalance?.amountMinor, s.revision])).toEqual([
      ["2", "2026-04-30", "200", 1n],
      ["1", "2026-03-31", "100", 2n],
      ["3", "2026-05-02", "300", 3n],
    ]);
    const statements = state?.statements ?? [];
    // The camt.052 is later but interim; the April statement is the one to follow.
    expect(previousStatement(statements, { fileSha256: "b".repeat(64), section: 0 })?.sequenceNumber).toBe("2");
    // Re-importing the April statement's file section: it is not its own predecessor.
    expect(previousStatement(statements, { fileSha256: "a".repeat(64), section: 2 })?.sequenceNumber).toBe("1");
    expect(previousStatement([], { fileSha256: "a".repeat(64), section: 0 })).toBeUndefined();
  });
});
