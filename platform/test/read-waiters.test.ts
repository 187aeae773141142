// Proves the bound on reads waiting for a position, as a client meets it:
// with readWaitersMax reads already waiting for their minPosition, one more
// is answered at once with 503 OVERLOADED and Retry-After (nothing queues
// without bound), while those waiting still get their own answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresEventStore, encodePosition } from "@trueup/event-store";
import type { LightMyRequestResponse } from "fastify";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { compose } from "../src/compose.ts";
import type { Composed } from "../src/compose.ts";

const READ_WAITERS_MAX = 1;
/** Tries to catch the waiter registered before probing; each miss costs one full wait of the route. */
const PROBES_MAX = 5;

let db: TestDatabase;
let store: PostgresEventStore;
let composed: Composed;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  composed = await compose({
    services: ["command", "projections", "query"],
    logLevel: "silent",
    pool: db.pool,
    eventStore: store,
    ping: () => Promise.resolve(),
    readWaitersMax: READ_WAITERS_MAX,
  });
});

afterAll(async () => {
  await composed.close();
  await store.close();
  await db.drop();
});

describe("reads waiting for a position", () => {
  it(`beyond ${READ_WAITERS_MAX} waiting, a read is refused with 503 OVERLOADED at once`, async () => {
    const never = encodePosition(2n ** 63n, 0n);
    // async: inject's chain only sends when awaited, and the first read must be sent now.
    const read = async (): Promise<LightMyRequestResponse> => composed.app.inject({ method: "GET", url: `/ledgers/books/accounts?minPosition=${never}` });
    const waiting = read();
    let refused: LightMyRequestResponse | undefined;
    for (let probe = 0; probe < PROBES_MAX && refused === undefined; probe++) {
      const answer = await read();
      if (answer.json<{ code: string }>().code === "OVERLOADED") refused = answer;
    }
    expect(refused?.statusCode).toBe(503);
    expect(refused?.headers["retry-after"]).toBe("1");
    const first = await waiting;
    expect(first.statusCode).toBe(503);
    expect(first.json<{ code: string }>().code).toBe("READ_MODEL_BEHIND");
  });
});
