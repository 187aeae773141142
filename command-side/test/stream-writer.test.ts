// Proves that a shared catch-up read (StreamWriter.loadShared) never hands one
// caller's failure to a later one: a request that joined a read started during
// an outage reads again itself once that read fails, so the first request
// after the outage is not refused with the outage's error. And that a
// refusal is never decided on a stale cached state: a writer whose cache
// predates another writer's append refuses only after catching up (nothing
// is appended, so no expected revision would have told it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerStream } from "@trueup/contracts";
import { PostgresEventStore, StoreUnavailableError } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { withOverrides } from "../../test-support/event-store.ts";
import { createTestDatabase } from "../../test-support/postgres.ts";
import type { TestDatabase } from "../../test-support/postgres.ts";
import { StreamWriter, ledgerDecider } from "../src/index.ts";
import { createLedgerBody, parseLedgerEvent } from "@trueup/contracts";
import type { JsonValue } from "@trueup/contracts";
import { deterministicUuid } from "../src/ids.ts";

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

  it("decides a refusal on the stream as it is, not on a cached state another writer has moved past", async () => {
    const model = { initial: ledgerDecider.initialLedgerState, evolve: ledgerDecider.evolveLedger, parse: parseLedgerEvent };
    const [a, b] = [new StreamWriter({ store, model }), new StreamWriter({ store, model })];
    const stream = ledgerStream("stale");
    const ctx = (commandId: string) => ({ commandId, envelope: (event: { type: string; data: JsonValue }, index: number) => ({ eventId: deterministicUuid(commandId, String(index)), type: event.type, schemaVersion: 1, data: event.data, metadata: { actor: "t", correlationId: "c", causationId: "c", commandId, occurredAt: "2026-01-01T00:00:00.000Z" } }) });
    // A caches the stream as "no ledger" (its creation refused nothing; it just reads).
    await a.load(stream);
    const created = await b.submit(stream, { ...ctx("create"), decide: (state) => ledgerDecider.decideLedger({ type: "CreateLedger", data: createLedgerBody.parse({ ledgerId: "stale", name: "Stale", baseCurrency: "EUR" }) }, state) });
    expect(created.kind).toBe("written");
    // On its stale cache A would refuse to open an account (no ledger); caught up, it opens it.
    const opened = await a.submit(stream, { ...ctx("open"), decide: (state) => ledgerDecider.decideLedger({ type: "OpenAccount", data: { code: "1000", name: "Bank", type: "asset", currency: null } }, state) });
    expect(opened).toMatchObject({ kind: "written" });
  });
});
