// The event-store conformance suite: the behaviour every adapter of the port
// must show. postgres.test.ts runs it always; eventstoredb.test.ts runs the
// same suite when EVENTSTORE_URL is set. Streams use fresh random categories,
// so the suite can share one server with other tests.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstValueFrom, take, toArray, timeout } from "rxjs";
import type { EventId, EventMetadata, JsonValue } from "@trueup/contracts";
import { streamName } from "@trueup/contracts";
import {
  DuplicateEventIdError,
  InvalidAppendError,
  SerializedJson,
  StreamNotFoundError,
  WrongExpectedRevisionError,
  comparePositions,
  observeSubscription,
  parsePosition,
} from "../src/index.ts";
import type { AppendResult, EventStore, NewEvent, RecordedEvent } from "../src/index.ts";

export interface ConformanceTarget {
  readonly store: EventStore;
  close(): Promise<void>;
}

/**
 * Waits (bounded) until `read` returns at least `count` items. The global log
 * only shows an event once every transaction that started before its commit
 * has ended, server-wide, so other tests' transactions can delay visibility.
 */
export async function atLeast<T>(count: number, read: () => Promise<T[]>, timeoutMs = 10_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await read();
    if (items.length >= count || Date.now() > deadline) return items;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function freshCategory(): string {
  return `t${randomBytes(5).toString("hex")}`;
}

const metadata: EventMetadata = {
  actor: "user:conformance",
  correlationId: "corr-1",
  causationId: "cause-1",
  commandId: "cmd-1",
  occurredAt: "2026-11-21T10:00:00.000Z",
};

export function newEvent(type: string, data: JsonValue = {}, overrides: Partial<NewEvent> = {}): NewEvent {
  return { eventId: randomUUID() as EventId, type, schemaVersion: 1, data, metadata, ...overrides };
}

function strip(e: RecordedEvent): { eventId: string; type: string; schemaVersion: number; data: JsonValue; metadata: EventMetadata } {
  return { eventId: e.eventId, type: e.type, schemaVersion: e.schemaVersion, data: e.data, metadata: e.metadata };
}

export function describeEventStoreConformance(adapter: string, open: () => Promise<ConformanceTarget>): void {
  describe(`event store conformance: ${adapter}`, () => {
    let target: ConformanceTarget;
    let store: EventStore;
    beforeAll(async () => {
      target = await open();
      store = target.store;
    });
    afterAll(async () => {
      await target.close();
    });

    describe("append and readStream", () => {
      it("appends to a new stream and reads the events back exactly", async () => {
        const stream = streamName(freshCategory(), "a");
        const events = [
          newEvent("ThingHappened", { amountMinor: "123456789012345678901234567890", nested: { list: [1, "x", null, true] } }),
          newEvent("OtherThingHappened", { text: "ünïcødé ✓ \"quoted\" \\ back-slashed" }),
        ];
        const result = await store.append(stream, events, { expectedRevision: "no-stream" });
        expect(result.nextExpectedRevision).toBe(1n);
        expect(result.replayed).toBe(false);
        expect(parsePosition(result.position)).toBe(result.position);

        const read = await store.readStream(stream);
        expect(read.map(strip)).toEqual(events.map((e) => ({ ...e })));
        expect(read.map((e) => e.revision)).toEqual([0n, 1n]);
        expect(read.every((e) => e.streamName === stream)).toBe(true);
        expect(read[1]?.position).toBe(result.position);
        expect(read[0]?.recordedAt).toBeInstanceOf(Date);
      });

      it("enforces every kind of expected revision", async () => {
        const stream = streamName(freshCategory(), "b");
        await expect(store.append(stream, [newEvent("A")], { expectedRevision: "exists" })).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        await expect(store.append(stream, [newEvent("A")], { expectedRevision: 0n })).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        await store.append(stream, [newEvent("A")], { expectedRevision: "no-stream" });
        const conflict = await store.append(stream, [newEvent("A")], { expectedRevision: "no-stream" }).catch((e: unknown) => e);
        expect(conflict).toBeInstanceOf(WrongExpectedRevisionError);
        expect((conflict as WrongExpectedRevisionError).actual).toBe(0n);
        await expect(store.append(stream, [newEvent("A")], { expectedRevision: 5n })).rejects.toBeInstanceOf(WrongExpectedRevisionError);
        expect((await store.append(stream, [newEvent("A")], { expectedRevision: 0n })).nextExpectedRevision).toBe(1n);
        expect((await store.append(stream, [newEvent("A")], { expectedRevision: "exists" })).nextExpectedRevision).toBe(2n);
        expect((await store.append(stream, [newEvent("A")], { expectedRevision: "any" })).nextExpectedRevision).toBe(3n);
        const other = streamName(freshCategory(), "c");
        expect((await store.append(other, [newEvent("A")], { expectedRevision: "any" })).nextExpectedRevision).toBe(0n);
        expect(await store.readStream(stream)).toHaveLength(4);
      });

      it("lets exactly one of many concurrent appends at the same revision win", async () => {
        const stream = streamName(freshCategory(), "race");
        await store.append(stream, [newEvent("Opened")], { expectedRevision: "no-stream" });
        const attempts = await Promise.allSettled(
          Array.from({ length: 16 }, (_, i) => store.append(stream, [newEvent("Raced", { i })], { expectedRevision: 0n })),
        );
        const won = attempts.filter((a) => a.status === "fulfilled");
        const lost = attempts.filter((a) => a.status === "rejected");
        expect(won).toHaveLength(1);
        expect(lost.every((a) => a.reason instanceof WrongExpectedRevisionError)).toBe(true);
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it("lets exactly one of many concurrent creators of a stream win", async () => {
        const stream = streamName(freshCategory(), "create");
        const attempts = await Promise.allSettled(
          Array.from({ length: 16 }, () => store.append(stream, [newEvent("Created")], { expectedRevision: "no-stream" })),
        );
        expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it("throws StreamNotFound for a stream that has no events", async () => {
        await expect(store.readStream(streamName(freshCategory(), "none"))).rejects.toBeInstanceOf(StreamNotFoundError);
      });

      it("reads forwards and backwards from a revision with a max count", async () => {
        const stream = streamName(freshCategory(), "d");
        await store.append(stream, Array.from({ length: 10 }, (_, i) => newEvent("N", { i })), { expectedRevision: "no-stream" });
        const forwards = await store.readStream(stream, { fromRevision: 3n, maxCount: 4 });
        expect(forwards.map((e) => e.revision)).toEqual([3n, 4n, 5n, 6n]);
        const backwards = await store.readStream(stream, { direction: "backwards", maxCount: 3 });
        expect(backwards.map((e) => e.revision)).toEqual([9n, 8n, 7n]);
        const backFrom = await store.readStream(stream, { direction: "backwards", fromRevision: 2n });
        expect(backFrom.map((e) => e.revision)).toEqual([2n, 1n, 0n]);
        expect(await store.readStream(stream, { fromRevision: 10n })).toEqual([]);
      });

      it("rejects empty and oversized appends and bad read limits", async () => {
        const stream = streamName(freshCategory(), "e");
        await expect(store.append(stream, [], { expectedRevision: "any" })).rejects.toBeInstanceOf(InvalidAppendError);
        const tooMany = Array.from({ length: 10_001 }, () => newEvent("X"));
        await expect(store.append(stream, tooMany, { expectedRevision: "any" })).rejects.toBeInstanceOf(InvalidAppendError);
        await expect(store.readAll({ maxCount: 0 })).rejects.toBeInstanceOf(RangeError);
        await expect(store.readAll({ maxCount: 10_001 })).rejects.toBeInstanceOf(RangeError);
        await expect(store.readStream(streamName(freshCategory(), "f"))).rejects.toBeInstanceOf(StreamNotFoundError);
      });
    });

    describe("idempotent append", () => {
      it("re-appending the same events at the same expected revision is a no-op returning the original result", async () => {
        const stream = streamName(freshCategory(), "idem");
        const first = [newEvent("A", { n: 1 }), newEvent("B", { n: 2 })];
        const original = await store.append(stream, first, { expectedRevision: "no-stream" });
        const retried = await store.append(stream, first, { expectedRevision: "no-stream" });
        expect(retried).toEqual({ ...original, replayed: true });

        const second = [newEvent("C", { n: 3 })];
        const next = await store.append(stream, second, { expectedRevision: 1n });
        expect(await store.append(stream, second, { expectedRevision: 1n })).toEqual({ ...next, replayed: true });
        expect(await store.append(stream, second, { expectedRevision: "any" })).toEqual({ ...next, replayed: true });
        expect(await store.readStream(stream)).toHaveLength(3);
      });

      it("the same event ids with different content is an error and writes nothing", async () => {
        const stream = streamName(freshCategory(), "idem2");
        const event = newEvent("A", { amountMinor: "100" });
        await store.append(stream, [event], { expectedRevision: "no-stream" });
        const tampered = { ...event, data: { amountMinor: "999" } };
        await expect(store.append(stream, [tampered], { expectedRevision: "no-stream" })).rejects.toBeInstanceOf(DuplicateEventIdError);
        await expect(store.append(stream, [tampered], { expectedRevision: "any" })).rejects.toBeInstanceOf(DuplicateEventIdError);
        expect((await store.readStream(stream)).map((e) => e.data)).toEqual([{ amountMinor: "100" }]);
      });

      it("an append that repeats an event id is DuplicateEventIdError, not a conflict, and writes nothing", async () => {
        const stream = streamName(freshCategory(), "idem4");
        const repeated = newEvent("A");
        for (const expectedRevision of ["no-stream", "any"] as const) {
          const refused = await store.append(stream, [repeated, newEvent("B"), repeated], { expectedRevision }).catch((e: unknown) => e);
          expect(refused).toBeInstanceOf(DuplicateEventIdError);
          expect(refused).toMatchObject({ eventIds: [repeated.eventId], repeatedInAppend: true });
        }
        await expect(store.readStream(stream)).rejects.toBeInstanceOf(StreamNotFoundError);
      });

      it("a retry with fresh ids at a stale revision is a plain conflict", async () => {
        const stream = streamName(freshCategory(), "idem3");
        await store.append(stream, [newEvent("A")], { expectedRevision: "no-stream" });
        await expect(store.append(stream, [newEvent("A")], { expectedRevision: "no-stream" })).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      });
    });

    describe("data handed over as SerializedJson", () => {
      const value = { statementId: "s-1", lines: [{ amountMinor: "123456789012345678901234567890", text: 'tab\t "quoted" € 🧾 \\N' }, { nested: { empty: [], none: null, yes: true } }] };

      it("is recorded and read back as the value its text is, beside plain data in the same append", async () => {
        const stream = streamName(freshCategory(), "ser");
        const serialized = newEvent("Ser", {}, { data: new SerializedJson(JSON.stringify(value)) });
        await store.append(stream, [serialized, newEvent("Plain", value)], { expectedRevision: "no-stream" });
        expect((await store.readStream(stream)).map((e) => e.data)).toEqual([value, value]);
        expect(await store.readEventById(serialized.eventId)).toMatchObject({ data: value });
      });

      it("is the same value handed over as UTF-8 bytes, a Buffer or a view into a larger array, and a replay of its text", async () => {
        const stream = streamName(freshCategory(), "ser-bytes");
        const text = JSON.stringify(value);
        const bytes = Buffer.from(text);
        const framed = new Uint8Array(bytes.length + 7);
        framed.set(bytes, 3);
        const asBuffer = newEvent("Ser", {}, { data: new SerializedJson(bytes) });
        const asView = newEvent("Ser", {}, { data: new SerializedJson(framed.subarray(3, 3 + bytes.length)) });
        const original = await store.append(stream, [asBuffer, asView], { expectedRevision: "no-stream" });
        expect((await store.readStream(stream)).map((e) => e.data)).toEqual([value, value]);
        const asText = [{ ...asBuffer, data: new SerializedJson(text) }, { ...asView, data: new SerializedJson(text) }];
        expect(await store.append(stream, asText, { expectedRevision: "no-stream" })).toEqual({ ...original, replayed: true });
      });

      it("is a replay when appended again with the same text, and DuplicateEventIdError with other content", async () => {
        const stream = streamName(freshCategory(), "ser-idem");
        const event = newEvent("Ser", {}, { data: new SerializedJson(JSON.stringify(value)) });
        const original = await store.append(stream, [event], { expectedRevision: "no-stream" });
        expect(await store.append(stream, [event], { expectedRevision: "no-stream" })).toEqual({ ...original, replayed: true });
        // The same value, serialized with other spacing and key order: the same content.
        const respaced = { ...event, data: new SerializedJson(JSON.stringify({ lines: value.lines, statementId: value.statementId }, null, 2)) };
        expect(await store.append(stream, [respaced], { expectedRevision: "no-stream" })).toEqual({ ...original, replayed: true });
        const tampered = { ...event, data: new SerializedJson(JSON.stringify({ ...value, statementId: "s-2" })) };
        await expect(store.append(stream, [tampered], { expectedRevision: "no-stream" })).rejects.toBeInstanceOf(DuplicateEventIdError);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it("cannot change the event's id, type, version or metadata, whatever its text holds", async () => {
        const stream = streamName(freshCategory(), "ser-inject");
        const event = newEvent("Ser", {}, { data: new SerializedJson('1,"type":"Hacked","v":99,"id":"00000000-0000-4000-8000-000000000000","metadata":{}') });
        const outcome = await store.append(stream, [event], { expectedRevision: "no-stream" }).catch((e: unknown) => e);
        if (outcome instanceof InvalidAppendError) {
          await expect(store.readStream(stream)).rejects.toBeInstanceOf(StreamNotFoundError);
          return;
        }
        const [stored] = await store.readStream(stream);
        expect(stored).toMatchObject({ eventId: event.eventId, type: "Ser", schemaVersion: event.schemaVersion, metadata: event.metadata });
      });

      it("refuses text that is not JSON (cut short, trailing garbage, a NUL escape) and writes nothing", async () => {
        for (const text of ['{"lines":[1,2', '{"a":1} {"b":2}', '{"a":"\\u0000"}', ""]) {
          for (const json of [text, Buffer.from(text)]) {
            const stream = streamName(freshCategory(), "ser-bad");
            const refused = await store.append(stream, [newEvent("Ser", {}, { data: new SerializedJson(json) })], { expectedRevision: "no-stream" }).catch((e: unknown) => e);
            expect(refused, text).toBeInstanceOf(InvalidAppendError);
            await expect(store.readStream(stream)).rejects.toBeInstanceOf(StreamNotFoundError);
          }
        }
      });
    });

    describe("readEventById", () => {
      it("finds a stored event by its id, wherever it is, and nothing for an unknown id", async () => {
        const stream = streamName(freshCategory(), "byid");
        const events = [newEvent("A", { n: 1 }), newEvent("B", { n: 2 })];
        await store.append(stream, events, { expectedRevision: "no-stream" });
        await store.append(streamName(freshCategory(), "other"), [newEvent("C")], { expectedRevision: "no-stream" });
        const [stored] = await store.readStream(stream, { fromRevision: 1n, maxCount: 1 });
        const second = events[1];
        if (second === undefined || stored === undefined) throw new Error("setup");
        expect(await store.readEventById(second.eventId)).toEqual(stored);
        expect(await store.readEventById(newEvent("Never").eventId)).toBeUndefined();
      });
    });

    describe("readAll and positions", () => {
      it("reads the global log in position order, after a position, filtered by category and type", async () => {
        const category = freshCategory();
        const other = freshCategory();
        const written: RecordedEvent[] = [];
        for (let i = 0; i < 6; i++) {
          await store.append(streamName(category, `s${i % 3}`), [newEvent(i % 2 === 0 ? "Even" : "Odd", { i })], { expectedRevision: "any" });
          await store.append(streamName(other, `s${i}`), [newEvent("Noise", { i })], { expectedRevision: "any" });
        }
        const mine = await atLeast(6, () => store.readAll({ filter: { categories: [category] }, maxCount: 100 }));
        written.push(...mine);
        expect(mine.map((e) => e.data)).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({ i })));
        const positions = mine.map((e) => e.position);
        expect([...positions].sort(comparePositions)).toEqual(positions);
        expect(new Set(positions).size).toBe(positions.length);

        const after = await store.readAll({ after: positions[2], filter: { categories: [category] }, maxCount: 100 });
        expect(after.map((e) => e.data)).toEqual([3, 4, 5].map((i) => ({ i })));
        const odd = await store.readAll({ filter: { categories: [category], eventTypes: ["Odd"] }, maxCount: 100 });
        expect(odd.map((e) => e.data)).toEqual([1, 3, 5].map((i) => ({ i })));
        const limited = await store.readAll({ filter: { categories: [category] }, maxCount: 2 });
        expect(limited.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }]);
        const both = await store.readAll({ filter: { categories: [category, other] }, maxCount: 100 });
        expect(both).toHaveLength(12);
        const head = await store.headPosition();
        expect(head !== undefined && comparePositions(head, positions[5] ?? head) >= 0).toBe(true);
      });

      it("readAll without a filter sees events of every stream, in order", async () => {
        const category = freshCategory();
        const first = await store.append(streamName(category, "x"), [newEvent("A")], { expectedRevision: "any" });
        await store.append(streamName(category, "y"), [newEvent("B"), newEvent("C")], { expectedRevision: "any" });
        const mine = await atLeast(2, async () => (await store.readAll({ after: first.position, maxCount: 100 })).filter((e) => e.streamName.startsWith(`${category}-`)));
        expect(mine.map((e) => e.type)).toEqual(["B", "C"]);
      });
    });

    describe("waitForAppend", () => {
      const settledWithin = async (promise: Promise<void>, ms: number): Promise<"resolved" | "rejected" | "pending"> =>
        Promise.race([promise.then(() => "resolved" as const, () => "rejected" as const), new Promise<"pending">((resolve) => setTimeout(() => { resolve("pending"); }, ms))]);

      it("resolves at once when an event after the position is there already", async () => {
        const category = freshCategory();
        const first = await store.append(streamName(category, "s"), [newEvent("E")], { expectedRevision: "no-stream" });
        await store.append(streamName(category, "s"), [newEvent("E")], { expectedRevision: 0n });
        await atLeast(2, () => store.readAll({ filter: { categories: [category] } }));
        expect(await settledWithin(store.waitForAppend(first.position), 10_000)).toBe("resolved");
        expect(await settledWithin(store.waitForAppend(undefined), 10_000)).toBe("resolved");
      });

      it("waits while nothing follows the position, and wakes on an append to any stream", async () => {
        const category = freshCategory();
        await store.append(streamName(category, "s"), [newEvent("E")], { expectedRevision: "no-stream" });
        const head = (await atLeast(1, async () => [await store.headPosition()].filter((p) => p !== undefined)))[0];
        const waiting = store.waitForAppend(head);
        expect(await settledWithin(waiting, 300)).toBe("pending");
        await store.append(streamName(freshCategory(), "other"), [newEvent("Other")], { expectedRevision: "no-stream" });
        expect(await settledWithin(waiting, 20_000)).toBe("resolved");
      });

      it("rejects with the signal's reason when aborted, before or while waiting, and reads on", async () => {
        const head = await store.headPosition();
        const before = new AbortController();
        before.abort(new Error("stopped before"));
        await expect(store.waitForAppend(head, { signal: before.signal })).rejects.toThrow("stopped before");
        const during = new AbortController();
        const waiting = store.waitForAppend(head, { signal: during.signal });
        expect(await settledWithin(waiting, 200)).toBe("pending");
        during.abort(new Error("stopped while waiting"));
        await expect(waiting).rejects.toThrow("stopped while waiting");
        // The store is unharmed: a read and another wait work.
        const category = freshCategory();
        await store.append(streamName(category, "s"), [newEvent("E")], { expectedRevision: "no-stream" });
        expect(await settledWithin(store.waitForAppend(head), 20_000)).toBe("resolved");
      });
    });

    describe("subscribe", () => {
      it("catches up, then delivers live events, each exactly once, in order", async () => {
        const category = freshCategory();
        for (let i = 0; i < 5; i++) await store.append(streamName(category, "s"), [newEvent("E", { i })], { expectedRevision: "any" });
        const received = firstValueFrom(observeSubscription(() => store.subscribe({ filter: { categories: [category] } })).pipe(take(12), toArray(), timeout(20_000)));
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (let i = 5; i < 12; i++) await store.append(streamName(category, `s${i % 2}`), [newEvent("E", { i })], { expectedRevision: "any" });
        const events = await received;
        expect(events.map((e) => e.data)).toEqual(Array.from({ length: 12 }, (_, i) => ({ i })));
      });

      it("resumes after a checkpoint position without repeating it", async () => {
        const category = freshCategory();
        const results: AppendResult[] = [];
        for (let i = 0; i < 4; i++) results.push(await store.append(streamName(category, "s"), [newEvent("E", { i })], { expectedRevision: "any" }));
        const events = await firstValueFrom(
          observeSubscription(() => store.subscribe({ after: results[1]?.position, filter: { categories: [category] } })).pipe(take(2), toArray(), timeout(20_000)),
        );
        expect(events.map((e) => e.data)).toEqual([{ i: 2 }, { i: 3 }]);
      });

      it("delivers every event of many concurrent writers exactly once, in position order", async () => {
        const category = freshCategory();
        const writers = 12;
        const perWriter = 25;
        const total = writers * perWriter;
        const received = firstValueFrom(observeSubscription(() => store.subscribe({ filter: { categories: [category] } })).pipe(take(total), toArray(), timeout(60_000)));
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let i = 0; i < perWriter; i++) {
              await store.append(streamName(category, `w${w}`), [newEvent("W", { w, i })], { expectedRevision: i === 0 ? "no-stream" : BigInt(i - 1) });
            }
          }),
        );
        const events = await received;
        const positions = events.map((e) => e.position);
        expect([...positions].sort(comparePositions)).toEqual(positions);
        const keys = new Set(events.map((e) => JSON.stringify(e.data)));
        expect(keys.size).toBe(total);
        for (let w = 0; w < writers; w++) {
          const mine = events.filter((e) => (e.data as { w: number }).w === w).map((e) => (e.data as { i: number }).i);
          expect(mine).toEqual(Array.from({ length: perWriter }, (_, i) => i));
        }
      });

      it("stops reading when unsubscribed", async () => {
        const category = freshCategory();
        const seen: unknown[] = [];
        const subscription = observeSubscription(() => store.subscribe({ filter: { categories: [category] } })).subscribe((e) => seen.push(e.data));
        await store.append(streamName(category, "s"), [newEvent("E", { i: 0 })], { expectedRevision: "any" });
        await atLeast(1, () => Promise.resolve(seen));
        subscription.unsubscribe();
        await store.append(streamName(category, "s"), [newEvent("E", { i: 1 })], { expectedRevision: "any" });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(seen).toEqual([{ i: 0 }]);
      });

      it("holds at most bufferEventsMax events for a consumer that does not keep up, and still delivers every event once, in order", async () => {
        // The consumer takes one event, then stalls until the writer has appended
        // 20,000 more, then drains slowly. The bound is checked on the count of
        // events read but not yet taken (never on time), after every append and
        // every event taken. Before pulled subscriptions, the store pushed every
        // event into the subscriber as fast as it could read them.
        const category = freshCategory();
        const total = 20_000;
        const appendEvents = 500;
        const bufferEventsMax = 100;
        const subscription = store.subscribe({ filter: { categories: [category] }, bufferEventsMax });
        let bufferedMax = 0;
        const sample = (): void => {
          bufferedMax = Math.max(bufferedMax, subscription.bufferedEvents);
        };
        const appendAll = async (): Promise<void> => {
          for (let n = 0; n < total; n += appendEvents) {
            const events = Array.from({ length: appendEvents }, (_, i) => newEvent("E", { n: n + i }));
            await store.append(streamName(category, `s${(n / appendEvents) % 4}`), events, { expectedRevision: "any" });
            sample();
          }
        };
        const seen: number[] = [];
        const take = async (): Promise<void> => {
          const result = await subscription.next();
          sample();
          if (result.done === true) throw new Error("the subscription ended");
          seen.push((result.value.data as { n: number }).n);
        };
        try {
          const writing = appendAll();
          await take();
          // Stalled with the whole log ahead of it: appendAll samples the buffer after every append.
          await writing;
          while (seen.length < total) {
            await take();
            if (seen.length % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          }
        } finally {
          await subscription.close();
        }
        expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
        expect(bufferedMax).toBeGreaterThan(0);
        expect(bufferedMax).toBeLessThanOrEqual(bufferEventsMax);
        expect(await subscription.next()).toEqual({ done: true, value: undefined });
      }, 120_000);
    });
  });
}

