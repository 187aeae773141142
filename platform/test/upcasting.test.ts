// Proves schema evolution by upcasters end to end: an event stored at an old
// version (here LedgerCreated v1, whose `name` was once called `title`) is
// never rewritten, yet the command side decides on it (it loads the stream
// through contracts' ledgerUpcasters) and the projection applies it (it
// parses through the same registry); new events are written at the current
// version. The upcaster is registered for this file only: each test file runs
// in its own process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventId, JsonValue } from "@trueup/contracts";
import { ledgerStream, ledgerUpcasters } from "@trueup/contracts";
import type { Platform } from "./ledger-support.ts";
import { command, query, startPlatform } from "./ledger-support.ts";

describe("upcasting on every read of the log", () => {
  let p: Platform;
  beforeAll(async () => {
    ledgerUpcasters.register("LedgerCreated", 1, (data: JsonValue) => {
      if (typeof data !== "object" || data === null || Array.isArray(data)) throw new TypeError("LedgerCreated v1 is an object");
      const { title, ...rest } = data;
      return { ...rest, name: title ?? null };
    });
    p = await startPlatform();
  });
  afterAll(async () => {
    await p.close();
  });

  it("decides on and projects an event stored at an old version, and writes new events at the current one", async () => {
    await p.store.append(
      ledgerStream("old"),
      [
        {
          eventId: crypto.randomUUID() as EventId,
          type: "LedgerCreated",
          schemaVersion: 1,
          data: { ledgerId: "old", title: "Old books", baseCurrency: "EUR" },
          metadata: { actor: "test", correlationId: "c", causationId: "c", commandId: "c", occurredAt: new Date().toISOString() },
        },
      ],
      { expectedRevision: "no-stream" },
    );

    // The command side loads the ledger stream (with the v1 event) to decide.
    const opened = await command(p.app, "/ledgers/old/accounts", { code: "1000", name: "Cash", type: "asset" });
    expect(opened.statusCode).toBe(201);
    const { position } = opened.json<{ position: string }>();

    // The projection applied both events: the account is listed, the ledger has its (upcast) name.
    const accounts = await query(p.app, "/ledgers/old/accounts", position);
    expect(accounts.statusCode).toBe(200);
    expect(accounts.json<{ items: { code: string }[] }>().items.map((a) => a.code)).toEqual(["1000"]);
    const ledgers = await p.db.pool.query("SELECT name FROM rm_ledger.ledgers WHERE ledger_id = 'old'");
    expect(ledgers.rows).toEqual([{ name: "Old books" }]);

    // The stored event was not rewritten; a new ledger is written at version 2.
    expect((await command(p.app, "/ledgers", { ledgerId: "fresh", name: "Fresh books", baseCurrency: "EUR" })).statusCode).toBe(201);
    const versions = await p.db.pool.query("SELECT data->>'ledgerId' AS ledger, schema_version AS v FROM es_events WHERE type = 'LedgerCreated' ORDER BY ledger");
    expect(versions.rows).toEqual([{ ledger: "fresh", v: 2 }, { ledger: "old", v: 1 }]);
  });
});
