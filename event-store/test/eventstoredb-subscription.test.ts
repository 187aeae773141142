// Proves the EventStoreDB adapter's pulled subscription without a server:
// the client's own subscription class (a Transform piped from the gRPC
// stream) is fed by a source that always has another event ready, as a busy
// server would, and our EsdbSubscription pulls from it. A consumer that
// stalls must hold back the source: the events read but not yet taken never
// exceed bufferEventsMax, and every event still arrives once, in order.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Subscription } from "@eventstore/db-client/dist/streams/utils/Subscription.js";
import type { EventId, EventMetadata } from "@trueup/contracts";
import { encodePosition } from "../src/index.ts";
import type { RecordedEvent } from "../src/index.ts";
import { toEventData } from "../src/eventstoredb/mapping.ts";
import type { EsdbRecord } from "../src/eventstoredb/mapping.ts";
import { ESDB_BUFFER_EVENTS_MIN, EsdbSubscription, highWaterMarkFor } from "../src/eventstoredb/subscription.ts";

const metadata: EventMetadata = {
  actor: "user:test",
  correlationId: "corr-1",
  causationId: "cause-1",
  commandId: "cmd-1",
  occurredAt: "2026-11-21T10:00:00.000Z",
};

/** The n-th event of the log as the client hands it over: position n + 1, every third one in another category. */
function record(n: number): EsdbRecord {
  const data = toEventData({ eventId: crypto.randomUUID() as EventId, type: "E", schemaVersion: 1, data: { n }, metadata });
  return {
    streamId: n % 3 === 2 ? "other-1" : "mine-1",
    id: data.id,
    revision: BigInt(n),
    type: "E",
    created: new Date("2026-11-21T10:00:01.000Z"),
    isJson: true,
    data: JSON.parse(JSON.stringify(data.data)) as unknown,
    metadata: JSON.parse(JSON.stringify(data.metadata)) as unknown,
    position: { commit: BigInt(n + 1), prepare: BigInt(n + 1) },
  };
}

/** Stands in for the gRPC call: an endless object stream of read responses, counting what it produced. */
function busyServer(): { source: Readable & { cancel: () => void }; produced: () => number } {
  let produced = 0;
  const source = Object.assign(
    new Readable({
      objectMode: true,
      highWaterMark: 1,
      read() {
        const n = produced;
        produced += 1;
        this.push({ hasEvent: () => true, getEvent: () => record(n) });
      },
    }),
    { cancel: () => undefined },
  );
  return { source, produced: () => produced };
}

function open(bufferEventsMax: number, after?: number): { subscription: EsdbSubscription; produced: () => number } {
  const server = busyServer();
  // The client's class, with our high-water mark: exactly what subscribeToAll builds.
  const stream = new Subscription<{ event: EsdbRecord }>(
    () => Promise.resolve(server.source as never),
    // The class hands the converter what resp.getEvent() returned: here the record itself.
    (raw) => ({ event: raw as unknown as EsdbRecord }),
    { highWaterMark: highWaterMarkFor(bufferEventsMax) },
  );
  const subscription = new EsdbSubscription(stream, {
    after: after === undefined ? undefined : encodePosition(BigInt(after), BigInt(after)),
    filter: { categories: ["mine"] },
    mapError: (error) => error,
  });
  return { subscription, produced: server.produced };
}

/** Lets the streams run (they would fill any unbounded buffer) for a few turns of the event loop. */
async function letStreamsRun(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe("EventStoreDB pulled subscription", () => {
  it("holds at most bufferEventsMax events while the consumer stalls, and delivers every matching event once, in order", async () => {
    const bufferEventsMax = 100;
    const { subscription, produced } = open(bufferEventsMax);
    const taken: RecordedEvent[] = [];
    let bufferedMax = 0;
    try {
      for (let round = 0; round < 10; round++) {
        await letStreamsRun();
        bufferedMax = Math.max(bufferedMax, subscription.bufferedEvents);
        for (let i = 0; i < 400; i++) {
          const next = await subscription.next();
          if (next.done === true) throw new Error("ended");
          taken.push(next.value);
          bufferedMax = Math.max(bufferedMax, subscription.bufferedEvents);
        }
      }
      // Everything produced was either taken, skipped by the filter, or is in the bounded buffers.
      const seenByFilter = Math.ceil((taken.length * 3) / 2);
      expect(produced() - seenByFilter).toBeLessThanOrEqual(bufferEventsMax + 2);
    } finally {
      await subscription.close();
    }
    expect(bufferedMax).toBeGreaterThan(0);
    expect(bufferedMax).toBeLessThanOrEqual(bufferEventsMax);
    const numbers = taken.map((e) => (e.data as { n: number }).n);
    const expected = Array.from({ length: 6000 }, (_, i) => i).filter((n) => n % 3 !== 2).slice(0, taken.length);
    expect(numbers).toEqual(expected);
    expect(await subscription.next()).toEqual({ done: true, value: undefined });
  });

  it.each([1, 2, 3, 7])("with bufferEventsMax %i, holds at most max(bufferEventsMax, ESDB_BUFFER_EVENTS_MIN)", async (bufferEventsMax) => {
    const { subscription } = open(bufferEventsMax);
    let bufferedMax = 0;
    try {
      for (let i = 0; i < 10; i++) {
        await letStreamsRun();
        bufferedMax = Math.max(bufferedMax, subscription.bufferedEvents);
        expect((await subscription.next()).done).toBe(false);
      }
    } finally {
      await subscription.close();
    }
    expect(bufferedMax).toBeLessThanOrEqual(Math.max(bufferEventsMax, ESDB_BUFFER_EVENTS_MIN));
  });

  it("skips what is at or before `after`", async () => {
    const { subscription } = open(10, 4);
    try {
      const first = await subscription.next();
      // Position 5 is event n = 4 (mine), the first strictly after position 4.
      expect(first.done === false && first.value.data).toEqual({ n: 4 });
    } finally {
      await subscription.close();
    }
  });
});
