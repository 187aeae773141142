// Proves, through the HTTP API over a real PostgreSQL, that a bank account's
// matching rules are versioned in the log:
// - PUT sets version 1, then each change the next version; GET shows the
//   current one with the schema's defaults filled in (the defaults, as
//   version 0, before any were set), also right after the PUT;
// - a retry with the same key replays (the same version, no new event);
//   another body under the key is 409 IDEMPOTENCY_CONFLICT; the same key
//   sent six times at once sets one version;
// - six different changes at once become six versions, none lost; two
//   changes from the same expectedVersion: exactly one lands, the other is
//   409 MATCHING_RULES_VERSION_CONFLICT;
// - refusals name the field and write nothing: invalid rules (a ReDoS
//   pattern, a window too wide), an unknown bank account, a write-off
//   account that is missing, closed, or the account's own.
import type { FastifyInstance } from "fastify";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MATCHING_RULES } from "@trueup/contracts";
import { command, key, query } from "./ledger-support.ts";
import { setupBankAccount, startImportPlatform } from "./statement-import-support.ts";
import type { ImportPlatform } from "./statement-import-support.ts";

const LEDGER = "mrules";
const ACCOUNT = "mrules_bank";
const URL_ = `/bank-accounts/${ACCOUNT}/matching-rules`;

interface Problem {
  code: string;
  path?: string;
}

function put(app: FastifyInstance, url: string, payload: unknown, idempotencyKey: string = key()): Promise<LightMyRequestResponse> {
  return app.inject({ method: "PUT", url, payload: payload as object, headers: { "idempotency-key": idempotencyKey, "content-type": "application/json" } });
}

const rules = (writeOffAccount: string | null = "6800", window = 3) => ({
  rules: [
    { kind: "reference", id: "ref", fields: ["endToEndId"] },
    { kind: "amountDate", id: "ad", dateWindowDays: window, allowTolerance: writeOffAccount !== null },
  ],
  tolerance: { absoluteMinor: "500" },
  writeOffAccount,
});

describe("matching rules are versioned in the log, one version per change", () => {
  let p: ImportPlatform;
  const events = async (): Promise<number> => Number((await p.db.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events")).rows[0]?.n ?? "0");

  beforeAll(async () => {
    p = await startImportPlatform();
    await setupBankAccount(p.app, { ledgerId: LEDGER, bankAccountId: ACCOUNT, iban: "DE89370400440532013000" });
    for (const [code, type] of [["6800", "expense"], ["6900", "expense"]] as const) {
      expect((await command(p.app, `/ledgers/${LEDGER}/accounts`, { code, name: code, type })).statusCode).toBe(201);
    }
    expect((await command(p.app, `/ledgers/${LEDGER}/accounts/6900/close`, {})).statusCode).toBeLessThan(300);
    // The GET needs the account in the read model (the PUT decides from the log and does not).
    for (let tries = 0; (await query(p.app, `/bank-accounts/${ACCOUNT}`)).statusCode !== 200; tries++) {
      expect(tries, "the bank account never reached the read model").toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  afterAll(async () => {
    await p.close();
  });

  it("shows the defaults as version 0 before any rules are set", async () => {
    const got = await query(p.app, URL_);
    expect(got.statusCode, got.body).toBe(200);
    expect(got.json()).toEqual({ bankAccountId: ACCOUNT, version: 0, isDefault: true, position: null, rules: JSON.parse(JSON.stringify(DEFAULT_MATCHING_RULES)) as unknown });
    expect((await query(p.app, "/bank-accounts/nobody/matching-rules")).json<Problem>().code).toBe("BANK_ACCOUNT_NOT_FOUND");
  });

  it("sets version 1, replays a retry, refuses another body under the key, and shows the current version at once", async () => {
    const k = key();
    const first = await put(p.app, URL_, { rules: rules(), expectedVersion: 0 }, k);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ bankAccountId: ACCOUNT, version: 1, revision: "0", replayed: false });
    const before = await events();
    const again = await put(p.app, URL_, { rules: rules(), expectedVersion: 0 }, k);
    expect(again.statusCode).toBe(200);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toMatchObject({ version: 1, replayed: true });
    expect((await put(p.app, URL_, { rules: rules(null) }, k)).json<Problem>().code).toBe("IDEMPOTENCY_CONFLICT");
    expect(await events()).toBe(before);
    const got = (await query(p.app, URL_)).json<{ version: number; isDefault: boolean; rules: { rules: { kind: string; dateWindowDays?: number }[]; autoConfirmScoreMin: number } }>();
    expect(got).toMatchObject({ version: 1, isDefault: false });
    // Stored as validated: the schema's defaults are filled in.
    expect(got.rules.autoConfirmScoreMin).toBe(90);
    expect(got.rules.rules[0]).toMatchObject({ kind: "reference", dateWindowDays: 31 });
  });

  it("makes each change the next version, and refuses one made from a version no longer current", async () => {
    const current = (await query(p.app, URL_)).json<{ version: number }>().version;
    const next = await put(p.app, URL_, { rules: rules("6800", 5), expectedVersion: current });
    expect(next.json()).toMatchObject({ version: current + 1 });
    const stale = await put(p.app, URL_, { rules: rules("6800", 7), expectedVersion: current });
    expect(stale.statusCode).toBe(409);
    expect(stale.json<Problem>()).toMatchObject({ code: "MATCHING_RULES_VERSION_CONFLICT", path: "/expectedVersion" });
    expect((await query(p.app, URL_)).json<{ version: number }>().version).toBe(current + 1);
  });

  it("turns six changes at once into six versions, and lets exactly one of two from the same version land", async () => {
    const start = (await query(p.app, URL_)).json<{ version: number }>().version;
    const six = await Promise.all(Array.from({ length: 6 }, (_, n) => put(p.app, URL_, { rules: rules("6800", n + 1) })));
    expect(six.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(six.map((r) => r.json<{ version: number }>().version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6].map((n) => start + n));
    const from = start + 6;
    const pair = await Promise.all([put(p.app, URL_, { rules: rules("6800", 2), expectedVersion: from }), put(p.app, URL_, { rules: rules("6800", 3), expectedVersion: from })]);
    expect(pair.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect((await query(p.app, URL_)).json<{ version: number }>().version).toBe(from + 1);
  });

  it("sets one version when the same key is sent six times at once", async () => {
    const start = (await query(p.app, URL_)).json<{ version: number }>().version;
    const k = key();
    const answers = await Promise.all(Array.from({ length: 6 }, () => put(p.app, URL_, { rules: rules() }, k)));
    // Each is the one answer, or (while the first is still running) a 409 to retry.
    for (const answer of answers) expect([200, 409]).toContain(answer.statusCode);
    expect(answers.filter((a) => a.statusCode === 200).map((a) => a.json<{ version: number }>().version)).toEqual(answers.filter((a) => a.statusCode === 200).map(() => start + 1));
    expect((await put(p.app, URL_, { rules: rules() }, k)).json<{ version: number }>().version).toBe(start + 1);
    expect((await query(p.app, URL_)).json<{ version: number }>().version).toBe(start + 1);
  });

  it("refuses bad rules and a write-off account the ledger cannot take, naming the field and writing nothing", async () => {
    const before = await events();
    const cases: [unknown, number, string, string][] = [
      [{ rules: { rules: [{ kind: "reference", id: "r", fields: ["invoiceNumber"], invoicePattern: "(a+)+$" }] } }, 400, "VALIDATION_FAILED", "/rules/rules/0/invoicePattern"],
      [{ rules: rules("6800", 32) }, 400, "VALIDATION_FAILED", "/rules/rules/1/dateWindowDays"],
      [{ rules: rules(), expectedVersion: -1 }, 400, "VALIDATION_FAILED", "/expectedVersion"],
      [{ rules: rules("7777") }, 404, "ACCOUNT_NOT_FOUND", "/rules/writeOffAccount"],
      [{ rules: rules("6900") }, 422, "ACCOUNT_CLOSED", "/rules/writeOffAccount"],
      [{ rules: rules("1000") }, 400, "VALIDATION_FAILED", "/rules/writeOffAccount"],
    ];
    for (const [body, status, code, path] of cases) {
      const refused = await put(p.app, URL_, body);
      expect(refused.statusCode, refused.body).toBe(status);
      expect(refused.json<Problem>()).toMatchObject({ code, path });
    }
    const unknown = await put(p.app, "/bank-accounts/nobody/matching-rules", { rules: rules() });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<Problem>().code).toBe("BANK_ACCOUNT_NOT_FOUND");
    expect(await events()).toBe(before);
  });
});
