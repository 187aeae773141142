// Proves the account close's balance cannot miss a period that gets its first
// entry while the close is being decided: a store that delegates to the real
// PostgreSQL one lets a posting into a new period land exactly between the
// close's read of the listed periods and its append. The close must then read
// the balance again (it covers the new period) and refuse: the account is
// not at zero. Without the check it would close with that posting's balance.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import type { FastifyInstance } from "fastify";
import { withOverrides } from "../../test-support/event-store.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { compose } from "../src/compose.ts";
import type { Composed } from "../src/compose.ts";
import { command } from "./ledger-support.ts";

/** The real store, with a hook that runs (once, when armed) before a read of `stream` returns. */
function interleaving(store: PostgresEventStore): { store: EventStore; arm: (stream: string, run: () => Promise<void>) => void } {
  let armed: { stream: string; run: () => Promise<void> } | undefined;
  return {
    arm: (stream, run) => {
      armed = { stream, run };
    },
    store: withOverrides(store, {
      readStream: async (stream, options) => {
        const events = await store.readStream(stream, options);
        const hook = armed;
        if (hook?.stream === stream) {
          armed = undefined;
          await hook.run();
        }
        return events;
      },
      close: () => Promise.resolve(),
    }),
  };
}

describe("an account close racing a posting into a new period", () => {
  let db: TestDatabase;
  let real: PostgresEventStore;
  let composed: Composed;
  let app: FastifyInstance;
  let arm: (stream: string, run: () => Promise<void>) => void;
  const move = (effectiveDate: string, debit: string, credit: string, amount: string) =>
    command(app, "/ledgers/race/journal-entries", {
      effectiveDate,
      description: "move",
      lines: [
        { account: debit, side: "debit", amount, currency: "EUR" },
        { account: credit, side: "credit", amount, currency: "EUR" },
      ],
    });

  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 10 });
    real = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
    const wrapped = interleaving(real);
    arm = wrapped.arm;
    composed = await compose({ services: ["command"], logLevel: "silent", pool: db.pool, eventStore: wrapped.store, ping: () => Promise.resolve() });
    app = composed.app;
    expect((await command(app, "/ledgers", { ledgerId: "race", name: "Race", baseCurrency: "EUR" })).statusCode).toBe(201);
    for (const code of ["1000", "2000"]) expect((await command(app, "/ledgers/race/accounts", { code, name: code, type: "asset" })).statusCode).toBe(201);
  });
  afterAll(async () => {
    await composed.close();
    await real.close();
    await db.drop();
  });

  it("reads the balance again and refuses: the new period's entry is in it", async () => {
    // January nets to zero on 1000: closable, as far as January goes.
    expect((await move("2026-01-10", "1000", "2000", "10.00")).statusCode).toBe(201);
    expect((await move("2026-01-20", "2000", "1000", "10.00")).statusCode).toBe(201);
    let raced: number | undefined;
    // While the close reads January, a posting opens February on 1000.
    arm("period-race:2026-01", async () => {
      raced = (await move("2026-02-05", "1000", "2000", "5.00")).statusCode;
    });
    const close = await command(app, "/ledgers/race/accounts/1000/close", {});
    expect(raced).toBe(201);
    expect(close.statusCode, close.body).toBe(422);
    expect(close.json<{ code: string; balances: unknown }>()).toMatchObject({ code: "ACCOUNT_BALANCE_NOT_ZERO", balances: [{ currency: "EUR", debitMinor: "1500", creditMinor: "1000" }] });
    // And once February is settled too, the close goes through.
    expect((await move("2026-02-06", "2000", "1000", "5.00")).statusCode).toBe(201);
    expect((await command(app, "/ledgers/race/accounts/1000/close", {})).statusCode).toBe(200);
  });
});
