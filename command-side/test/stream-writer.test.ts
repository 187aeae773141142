// Proves that a shared catch-up read (StreamWriter.loadShared) never hands one
// caller's failure to a later one: a request that joined a read started during
// an outage reads again itself once that read fails, so the first request
// after the outage is not refused with the outage's error.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerStream } from "@trueup/contracts";
import { PostgresEventStore, StoreUnavailableError } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { withOverrides } from "../../test-support/event-store.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { StreamWriter, ledgerDecider } from "../src/index.ts";
import { parseLedgerEvent } from "@trueup/contracts";

describe("StreamWriter.loadShared", () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresEventStore.open({ pool: db.pool, listenConnection: db.config });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it("a caller that joined a read which then failed reads again itself", async () => {
    // The real store, with its first stream read held until released and then failed (an outage that ends).
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reads = 0;
    const readStream: EventStore["readStream"] = async (stream, options) => {
      reads += 1;
      if (reads === 1) {
        await held;
        throw new StoreUnavailableError("database went away during the read");
      }
      return store.readStream(stream, options);
    };
    const faulty = withOverrides(store, { readStream });
    const writer = new StreamWriter({
      store: faulty,
      model: { initial: ledgerDecider.initialLedgerState, evolve: ledgerDecider.evolveLedger, parse: parseLedgerEvent },
    });
    const stream = ledgerStream("shared");
    const during = writer.loadShared(stream);
    const after = writer.loadShared(stream);
    release();
    await expect(during).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(after).resolves.toMatchObject({ revision: undefined });
    expect(reads).toBe(2);
  });
});
