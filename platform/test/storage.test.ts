// Proves that a connection lost while the platform holds it (checked out of a
// pool: inside a transaction, between two queries) is an error for that work
// only, never an uncaught exception that kills the process. pg emits 'error'
// on a client whose socket ends, and pg-pool removes its own listener while a
// client is checked out; a database restart under load used to take the whole
// platform down this way (seen in `npm run bench:outage`).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { loadConfig } from "../src/config.ts";
import { openStorage } from "../src/storage.ts";
import type { Storage } from "../src/storage.ts";

describe("storage pools", () => {
  let db: TestDatabase;
  let storage: Storage;
  const uncaught: unknown[] = [];
  let onUncaughtSeen: (() => void) | undefined;
  const onUncaught = (error: unknown): void => {
    uncaught.push(error);
    onUncaughtSeen?.();
  };
  /** Bound for the cut connection to be noticed; past it the test fails on the assertions, not on a timeout. */
  const NOTICE_WAIT_MS = 20_000;
  beforeAll(async () => {
    db = await createTestDatabase();
    const c = db.config;
    const url = `postgres://${String(c.user)}:${String(c.password)}@${String(c.host)}:${String(c.port)}/${String(c.database)}`;
    storage = await openStorage(loadConfig({ DATABASE_URL: url, PG_POOL_MAX: "4" }), () => undefined);
    process.prependListener("uncaughtException", onUncaught);
  });
  afterAll(async () => {
    process.off("uncaughtException", onUncaught);
    await storage.close();
    await db.drop();
  });

  for (const name of ["pool", "relaxedPool"] as const) {
    it(`a checked-out ${name} client whose connection is cut errors its holder, not the process`, async () => {
      const client = await storage[name].connect();
      await client.query("BEGIN");
      const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      // Settles on the client's end, or on an uncaught error (which, thrown inside pg's end handler, stops it
      // from ever emitting 'end').
      const noticed = new Promise<void>((resolve) => {
        client.once("end", () => {
          resolve();
        });
        onUncaughtSeen = resolve;
        setTimeout(resolve, NOTICE_WAIT_MS).unref();
      });
      await db.pool.query("SELECT pg_terminate_backend($1)", [pid]);
      await noticed;
      await new Promise((resolve) => setImmediate(resolve)); // let any 'error' emitted with the end surface
      await expect(client.query("SELECT 1")).rejects.toThrow();
      client.release(true);
      expect(uncaught).toEqual([]);
      // The pool carries on with a fresh connection.
      expect((await storage[name].query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    });
  }
});
