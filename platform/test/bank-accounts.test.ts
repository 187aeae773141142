// Registering bank accounts through the HTTP API over a real PostgreSQL.
// Proves: a registration is decided from the log (the ledger's stream for
// its ledger account, the listing for its identifiers) and every refusal has
// its code and path; identifiers are unique per ledger and ids across
// ledgers, also under concurrent requests (one IBAN, six keys: one 201, five
// 409; one key six times at once: one account, one answer); the readers the
// import uses (readBankAccount, readLedgerBankAccounts) see an account only
// once it is registered and listed, and a registration cut short between the
// two streams is completed by a retry with the same key; a retry whose
// first answer was lost answers as the first did, never with a refusal of
// its own success (its ledger account closed since).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LightMyRequestResponse } from "fastify";
import { bankAccountStream, ledgerBankAccountsStream } from "@trueup/contracts";
import { readBankAccount, readLedgerBankAccounts, routeAccount } from "../../command-side/src/reconciliation/bank-accounts/index.ts";
import type { Platform } from "./ledger-support.ts";
import { command, key, startPlatform } from "./ledger-support.ts";

interface Registered {
  bankAccountId: string;
  ledgerId: string;
  revision: string | null;
  position: string | null;
  replayed: boolean;
}

interface ProblemBody {
  code: string;
  path?: string;
  detail: string;
  bankAccountId?: string;
  identifier?: string;
}

const IBAN = "DE89370400440532013000";
const IBAN_2 = "GB82WEST12345698765432";
const IBAN_3 = "FR1420041010050500013M02606";
const IBAN_4 = "NL91ABNA0417164300";

const body = (extra: Record<string, unknown> = {}) => ({ kind: "bank", name: "Main account", currency: "EUR", ledgerAccount: "1000", ...extra });
const problemOf = (r: LightMyRequestResponse): ProblemBody => r.json<ProblemBody>();

describe("bank accounts: POST /ledgers/{ledgerId}/bank-accounts", () => {
  let p: Platform;
  const ledgerId = "banks";
  const register = (payload: unknown, idempotencyKey?: string, ledger = ledgerId) => command(p.app, `/ledgers/${ledger}/bank-accounts`, payload, idempotencyKey);

  beforeAll(async () => {
    p = await startPlatform();
    for (const [ledger, currency] of [
      [ledgerId, "EUR"],
      ["other", "EUR"],
    ] as const) {
      expect((await command(p.app, "/ledgers", { ledgerId: ledger, name: ledger, baseCurrency: currency })).statusCode).toBe(201);
      for (const account of [
        { code: "1000", name: "Bank EUR", type: "asset", currency: "EUR" },
        { code: "1010", name: "Bank any currency", type: "asset" },
        { code: "1020", name: "Bank USD", type: "asset", currency: "USD" },
        { code: "1030", name: "Closed bank", type: "asset" },
      ]) {
        expect((await command(p.app, `/ledgers/${ledger}/accounts`, account)).statusCode).toBe(201);
      }
      expect((await command(p.app, `/ledgers/${ledger}/accounts/1030/close`, {})).statusCode).toBe(200);
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("registers with an IBAN written with spaces in lower case: 201, stored normalised, readable by readBankAccount and routable by readLedgerBankAccounts", async () => {
    const r = await register(body({ bankAccountId: "main_eur", iban: "de89 3704 0044 0532 0130 00", bankId: "COBADEFFXXX" }));
    expect(r.statusCode, r.body).toBe(201);
    const answer = r.json<Registered>();
    expect(answer).toMatchObject({ bankAccountId: "main_eur", ledgerId, revision: "0", replayed: false });
    expect(answer.position).toMatch(/^[0-9a-f]{32}$/);
    const state = await readBankAccount(p.store, "main_eur");
    expect(state).toMatchObject({ bankAccountId: "main_eur", ledgerId, iban: IBAN, accountNumber: null, bankId: "COBADEFFXXX", currency: "EUR", ledgerAccount: "1000", kind: "bank", identifiers: [IBAN], statements: [], revision: 0n });
    const table = await readLedgerBankAccounts(p.store, ledgerId);
    expect(table.get(IBAN)).toBe("main_eur");
    expect(routeAccount(table, { iban: "DE89 3704 0044 0532 0130 00", accountNumber: null })).toBe("main_eur");
    expect(routeAccount(table, { iban: null, accountNumber: "de89370400440532013000" })).toBe("main_eur");
    expect(routeAccount(table, { iban: IBAN_2, accountNumber: null })).toBeUndefined();
  });

  it("derives the id from the Idempotency-Key when none is given: a retry answers the same id, replayed", async () => {
    const k = key();
    const first = await register(body({ kind: "psp", name: "Stripe", accountNumber: "acct_1Nv0FGQ9RKHgCVdK", ledgerAccount: "1010" }), k);
    expect(first.statusCode, first.body).toBe(201);
    const again = await register(body({ kind: "psp", name: "Stripe", accountNumber: "acct_1Nv0FGQ9RKHgCVdK", ledgerAccount: "1010" }), k);
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    const [a, b] = [first.json<Registered>(), again.json<Registered>()];
    expect(a.bankAccountId).toMatch(/^ba[0-9a-f]{24}$/);
    expect(b).toEqual({ ...a, replayed: true });
    const state = await readBankAccount(p.store, a.bankAccountId);
    expect(state).toMatchObject({ kind: "psp", accountNumber: "acct_1Nv0FGQ9RKHgCVdK", identifiers: ["ACCT_1NV0FGQ9RKHGCVDK"] });
  });

  it("an answer lost after the registration landed: the retry with the key answers as the first did, though its ledger account was closed since", async () => {
    expect((await command(p.app, `/ledgers/${ledgerId}/accounts`, { code: "1040", name: "Soon closed", type: "asset" })).statusCode).toBe(201);
    const k = key();
    const payload = body({ accountNumber: "LOST-ANSWER-1", ledgerAccount: "1040" });
    const first = await register(payload, k);
    expect(first.statusCode, first.body).toBe(201);
    expect((await command(p.app, `/ledgers/${ledgerId}/accounts/1040/close`, {})).statusCode).toBe(200);
    // The answer never reached the key (a crash between the events and the answer).
    await p.db.pool.query("UPDATE cmd_idempotency SET status_code = NULL, response = NULL WHERE key = $1", [k]);
    const retry = await register(payload, k);
    expect(retry.statusCode, retry.body).toBe(201);
    const [a, b] = [first.json<Registered>(), retry.json<Registered>()];
    expect(b).toMatchObject({ bankAccountId: a.bankAccountId, revision: a.revision, replayed: true });
    expect((await p.store.readStream(bankAccountStream(a.bankAccountId))).length).toBe(1);
    // A new registration to the closed account is refused.
    expect(problemOf(await register(body({ accountNumber: "LOST-ANSWER-2", ledgerAccount: "1040" }))).code).toBe("ACCOUNT_CLOSED");
  });

  it("refuses bad input with its code and path: IBAN parts, no identifier, unknown or withdrawn currency", async () => {
    const cases: [Record<string, unknown>, string, string, RegExp][] = [
      [{ iban: "DE89370400440532013001" }, "IBAN_INVALID", "/iban", /mod-97/],
      [{ iban: "DE8937040044053201300" }, "IBAN_INVALID", "/iban", /DE has 22 characters, this one has 21/],
      [{ iban: "QQ89370400440532013000" }, "IBAN_INVALID", "/iban", /QQ is not in the SWIFT IBAN registry/],
      [{ iban: "DE89-3704-0044" }, "IBAN_INVALID", "/iban", /only letters and digits/],
      [{ iban: "" }, "IBAN_INVALID", "/iban", /empty/],
      [{}, "VALIDATION_FAILED", "/iban", /iban, an accountNumber, or both/],
      [{ accountNumber: "   " }, "VALIDATION_FAILED", "/accountNumber", /empty/],
      [{ iban: IBAN_2, currency: "XYZ" }, "CURRENCY_UNKNOWN", "/currency", /XYZ/],
      [{ iban: IBAN_2, currency: "DEM" }, "CURRENCY_UNKNOWN", "/currency", /DEM/],
      [{ iban: IBAN_2, kind: "cash" }, "VALIDATION_FAILED", "/kind", /./],
      [{ iban: IBAN_2, bankAccountId: "has space" }, "VALIDATION_FAILED", "/bankAccountId", /./],
    ];
    for (const [extra, code, path, detail] of cases) {
      const r = await register(body(extra));
      expect(r.statusCode, JSON.stringify(extra)).toBe(400);
      const problem = problemOf(r);
      expect(problem, JSON.stringify(extra)).toMatchObject({ code, path });
      expect(problem.detail).toMatch(detail);
    }
    expect((await readLedgerBankAccounts(p.store, ledgerId)).has(IBAN_2)).toBe(false);
  });

  it("decides the ledger account from the ledger stream: unknown ledger, unknown or closed account, restricted to another currency", async () => {
    const cases: [string, Record<string, unknown>, number, string][] = [
      ["nope", { iban: IBAN_2 }, 404, "LEDGER_NOT_FOUND"],
      [ledgerId, { iban: IBAN_2, ledgerAccount: "9999" }, 404, "ACCOUNT_NOT_FOUND"],
      [ledgerId, { iban: IBAN_2, ledgerAccount: "1030" }, 422, "ACCOUNT_CLOSED"],
      [ledgerId, { iban: IBAN_2, ledgerAccount: "1020" }, 422, "ACCOUNT_CURRENCY_MISMATCH"],
    ];
    for (const [ledger, extra, status, code] of cases) {
      const r = await register(body(extra), undefined, ledger);
      expect(r.statusCode, r.body).toBe(status);
      expect(problemOf(r).code).toBe(code);
    }
    // Nothing was written for any of them.
    const written = await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events WHERE stream_name LIKE 'bankaccount-%' AND data->>'iban' = $1", [IBAN_2]);
    expect(written.rows[0]?.n).toBe("0");
    // A USD bank account may use the USD account and the unrestricted one.
    const usd = await register(body({ iban: IBAN_2, currency: "USD", ledgerAccount: "1020" }));
    expect(usd.statusCode, usd.body).toBe(201);
  });

  it("identifiers are unique per ledger (normalised, IBAN and account number in one namespace), ids across every ledger", async () => {
    expect((await register(body({ bankAccountId: "acct_a", accountNumber: "0123 456789", ledgerAccount: "1010" }))).statusCode).toBe(201);
    const sameNumber = await register(body({ accountNumber: "0123456789", ledgerAccount: "1010" }));
    expect(sameNumber.statusCode).toBe(409);
    expect(problemOf(sameNumber)).toMatchObject({ code: "BANK_ACCOUNT_IDENTIFIER_TAKEN", path: "/accountNumber", bankAccountId: "acct_a", identifier: "0123456789" });
    // The IBAN of main_eur written as an account number elsewhere in the ledger: taken too.
    const ibanAsNumber = await register(body({ accountNumber: IBAN.toLowerCase() }));
    expect(problemOf(ibanAsNumber)).toMatchObject({ code: "BANK_ACCOUNT_IDENTIFIER_TAKEN", bankAccountId: "main_eur" });
    // Another ledger may hold the same IBAN…
    const elsewhere = await register(body({ iban: IBAN }), undefined, "other");
    expect(elsewhere.statusCode, elsewhere.body).toBe(201);
    // …but not the same id.
    const sameId = await register(body({ bankAccountId: "main_eur", iban: IBAN_3 }), undefined, "other");
    expect(sameId.statusCode).toBe(409);
    expect(problemOf(sameId)).toMatchObject({ code: "BANK_ACCOUNT_ALREADY_EXISTS", path: "/bankAccountId" });
    const sameIdHere = await register(body({ bankAccountId: "main_eur", iban: IBAN_3 }));
    expect(problemOf(sameIdHere).code).toBe("BANK_ACCOUNT_ALREADY_EXISTS");
  });

  it("6 concurrent registrations of one IBAN with different keys: exactly one 201, five 409 naming the winner", async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => register(body({ iban: IBAN_4 }))));
    const created = answers.filter((r) => r.statusCode === 201);
    const refused = answers.filter((r) => r.statusCode === 409);
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(5);
    const winner = created[0]?.json<Registered>().bankAccountId;
    for (const r of refused) expect(problemOf(r)).toMatchObject({ code: "BANK_ACCOUNT_IDENTIFIER_TAKEN", bankAccountId: winner, identifier: IBAN_4 });
    const table = await readLedgerBankAccounts(p.store, ledgerId);
    expect(table.get(IBAN_4)).toBe(winner);
    const listed = await p.store.readStream(ledgerBankAccountsStream(ledgerId));
    expect(listed.filter((e) => (e.data as { identifiers: string[] }).identifiers.includes(IBAN_4))).toHaveLength(1);
  });

  it("6 concurrent registrations with explicit one id and different keys: one 201, five BANK_ACCOUNT_ALREADY_EXISTS", async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => register(body({ bankAccountId: "raced_id", accountNumber: `RACE-${i}`, ledgerAccount: "1010" }))));
    expect(answers.filter((r) => r.statusCode === 201)).toHaveLength(1);
    const refused = answers.filter((r) => r.statusCode === 409);
    expect(refused).toHaveLength(5);
    for (const r of refused) expect(problemOf(r).code).toBe("BANK_ACCOUNT_ALREADY_EXISTS");
    expect((await p.store.readStream(bankAccountStream("raced_id"))).length).toBe(1);
  });

  it("the same key 6 times at once: one account, the same answer six times", async () => {
    const k = key();
    const payload = body({ iban: "BE68539007547034", ledgerAccount: "1010" });
    const answers = await Promise.all(Array.from({ length: 6 }, () => register(payload, k)));
    for (const r of answers) expect(r.statusCode, r.body).toBe(201);
    const bodies = answers.map((r) => ({ ...r.json<Registered>(), replayed: false }));
    for (const b of bodies) expect(b).toEqual(bodies[0]);
    expect(answers.filter((r) => !r.json<Registered>().replayed)).toHaveLength(1);
    const id = bodies[0]?.bankAccountId ?? "";
    expect((await p.store.readStream(bankAccountStream(id))).length).toBe(1);
    const listed = await p.store.readStream(ledgerBankAccountsStream(ledgerId));
    expect(listed.filter((e) => (e.data as { bankAccountId: string }).bankAccountId === id)).toHaveLength(1);
  });
});
