// Proves, without a server, the parts of the EventStoreDB adapter that are
// plain functions: expected-revision and position mapping, the metadata
// envelope that carries schemaVersion (round trip through JSON as the client
// does it), decoding stored records, the "strictly after, matching, at most n"
// selection behind readAll and subscribe, the server-side filter, error
// mapping from the client's own error classes, and the time/size bounds on reads.
// One end-to-end check needs no server either: a refused connection (port 1)
// must surface as StoreUnavailable from every operation, through the real client.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { firstValueFrom, timeout } from "rxjs";
import {
  ANY,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NO_STREAM,
  AccessDeniedError,
  STREAM_EXISTS,
  StreamNotFoundError as EsdbStreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from "@eventstore/db-client";
import type { EventId, EventMetadata, JsonValue } from "@trueup/contracts";
import { streamName } from "@trueup/contracts";
import {
  DuplicateEventIdError,
  EventStoreDbEventStore,
  InvalidAppendError,
  StoreUnavailableError,
  StreamNotFoundError,
  WrongExpectedRevisionError,
  decodePosition,
  encodePosition,
  observeSubscription,
} from "../src/index.ts";
import type { NewEvent } from "../src/index.ts";
import { collect, withTimeout } from "../src/eventstoredb/bounded.ts";
import { mapAppendError, mapEsdbError, mapReadStreamError } from "../src/eventstoredb/errors.ts";
import {
  ForeignEventError,
  SCHEMA_VERSION_KEY,
  checkAppend,
  checkCount,
  firstRevisionOf,
  fromEsdbPosition,
  packMetadata,
  pickMatching,
  sameContent,
  toActualRevision,
  toEsdbExpectedRevision,
  toEsdbPosition,
  toEventData,
  toRecordedEvent,
  toServerFilter,
  unpackMetadata,
} from "../src/eventstoredb/mapping.ts";
import type { EsdbRecord } from "../src/eventstoredb/mapping.ts";

const metadata: EventMetadata = {
  actor: "user:mapping",
  correlationId: "corr-1",
  causationId: "cause-1",
  commandId: "cmd-1",
  occurredAt: "2026-11-21T10:00:00.000Z",
};

function newEvent(type: string, data: JsonValue = {}, overrides: Partial<NewEvent> = {}): NewEvent {
  return { eventId: crypto.randomUUID() as EventId, type, schemaVersion: 2, data, metadata, ...overrides };
}

function reparse(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** What the client hands back for an event we wrote: data and metadata went through JSON.stringify/parse. */
function stored(event: NewEvent, overrides: Partial<EsdbRecord> = {}): EsdbRecord {
  const data = toEventData(event);
  return {
    streamId: "acc-1",
    id: event.eventId,
    revision: 0n,
    type: event.type,
    created: new Date("2026-11-21T10:00:01.000Z"),
    isJson: true,
    data: reparse(data.data),
    metadata: reparse(data.metadata),
    position: { commit: 1000n, prepare: 1000n },
    ...overrides,
  };
}

function at(commit: bigint, overrides: Partial<EsdbRecord> = {}, event: NewEvent = newEvent("Posted")): EsdbRecord {
  return stored(event, { position: { commit, prepare: commit }, ...overrides });
}

describe("expected revision", () => {
  it("maps every port expectation to the client's", () => {
    expect(toEsdbExpectedRevision("no-stream")).toBe(NO_STREAM);
    expect(toEsdbExpectedRevision("exists")).toBe(STREAM_EXISTS);
    expect(toEsdbExpectedRevision("any")).toBe(ANY);
    expect(toEsdbExpectedRevision(0n)).toBe(0n);
    expect(toEsdbExpectedRevision(41n)).toBe(41n);
  });

  it("refuses a negative revision as an invalid append", () => {
    expect(() => toEsdbExpectedRevision(-1n)).toThrow(InvalidAppendError);
  });

  it("maps the client's current revision back, including no stream", () => {
    expect(toActualRevision(3n)).toBe(3n);
    expect(toActualRevision(NO_STREAM)).toBe("no-stream");
    expect(toActualRevision(-1n)).toBe("no-stream");
  });

  it("says where appended events sit: from the expectation when it is exact, else from the server's answer", () => {
    expect(firstRevisionOf("no-stream", 1n, 2)).toBe(0n);
    expect(firstRevisionOf(4n, 99n, 3)).toBe(5n);
    expect(firstRevisionOf("any", 7n, 3)).toBe(5n);
    expect(firstRevisionOf("exists", 7n, 1)).toBe(7n);
  });
});

describe("positions", () => {
  it("encode commit/prepare as a port position and back", () => {
    const position = fromEsdbPosition({ commit: 1234n, prepare: 1200n });
    expect(position).toBe(encodePosition(1234n, 1200n));
    expect(decodePosition(position)).toEqual({ major: 1234n, minor: 1200n });
    expect(toEsdbPosition(position)).toEqual({ commit: 1234n, prepare: 1200n });
  });

  it("sort as strings in $all order: by commit, then prepare", () => {
    const positions = [
      { commit: 10n, prepare: 10n },
      { commit: 10n, prepare: 11n },
      { commit: 9n, prepare: 20n },
      { commit: 2n ** 40n, prepare: 0n },
    ].map(fromEsdbPosition);
    expect([...positions].sort()).toEqual([positions[2], positions[0], positions[1], positions[3]]);
  });

  it("reject the server's 'unknown' position (2^64-1) when decoding a record", () => {
    const unknown = 2n ** 64n - 1n;
    expect(() => toRecordedEvent(stored(newEvent("A"), { position: { commit: unknown, prepare: unknown } }))).toThrow(ForeignEventError);
    expect(() => toRecordedEvent(stored(newEvent("A"), { position: undefined }))).toThrow(/22\.6/);
  });
});

describe("metadata envelope", () => {
  it("carries schemaVersion next to the metadata and gives both back exactly", () => {
    const withHash: EventMetadata = { ...metadata, previousHash: "a".repeat(64), hash: "b".repeat(64) };
    const packed = packMetadata({ metadata: withHash, schemaVersion: 7 });
    expect(packed).toEqual({ ...withHash, [SCHEMA_VERSION_KEY]: 7 });
    expect(unpackMetadata(reparse(packed), "s@0")).toEqual({ schemaVersion: 7, metadata: withHash });
  });

  it("refuses metadata that would collide with the schemaVersion key, and fractional versions", () => {
    const colliding = { ...metadata, [SCHEMA_VERSION_KEY]: 1 };
    expect(() => packMetadata({ metadata: colliding, schemaVersion: 1 })).toThrow(InvalidAppendError);
    expect(() => packMetadata({ metadata, schemaVersion: 1.5 })).toThrow(InvalidAppendError);
  });

  it("refuses stored metadata that is not ours", () => {
    expect(() => unpackMetadata(undefined, "s@0")).toThrow(ForeignEventError);
    expect(() => unpackMetadata(new Uint8Array([1, 2]), "s@0")).toThrow(ForeignEventError);
    expect(() => unpackMetadata([metadata], "s@0")).toThrow(ForeignEventError);
    expect(() => unpackMetadata({ ...metadata }, "s@0")).toThrow(/schemaVersion/);
    expect(() => unpackMetadata({ schemaVersion: 1, actor: "x" }, "s@0")).toThrow(/audit fields/);
  });
});

describe("event data and records", () => {
  it("writes a JSON event with our id, type, data and packed metadata", () => {
    const event = newEvent("EntryPosted", { amountMinor: "100" });
    expect(toEventData(event)).toEqual({
      id: event.eventId,
      contentType: "application/json",
      type: "EntryPosted",
      data: { amountMinor: "100" },
      metadata: { ...metadata, schemaVersion: 2 },
    });
  });

  it("reads back exactly what was written, for any JSON value as data", () => {
    const datas: JsonValue[] = [{ nested: { list: [1, "x", null, true] } }, "text ünïcødé", 42, null, false, []];
    for (const data of datas) {
      const event = newEvent("ThingHappened", data);
      const recorded = toRecordedEvent(stored(event, { revision: 5n }));
      expect(recorded).toEqual({
        ...event,
        streamName: "acc-1",
        revision: 5n,
        position: encodePosition(1000n, 1000n),
        recordedAt: new Date("2026-11-21T10:00:01.000Z"),
      });
    }
  });

  it("refuses records that are not port events", () => {
    const event = newEvent("A");
    expect(() => toRecordedEvent(stored(event, { isJson: false, data: new Uint8Array([1]) }))).toThrow(ForeignEventError);
    expect(() => toRecordedEvent(stored(event, { streamId: "$stats-127.0.0.1:2113" }))).toThrow(ForeignEventError);
    expect(() => toRecordedEvent(stored(event, { id: "not-a-uuid" }))).toThrow(ForeignEventError);
    expect(() => toRecordedEvent(stored(event, { metadata: undefined }))).toThrow(ForeignEventError);
  });

  it("accepts the id in upper case, as some servers might format a UUID", () => {
    const event = newEvent("A");
    expect(toRecordedEvent(stored(event, { id: event.eventId.toUpperCase() })).eventId).toBe(event.eventId);
  });

  it("compares content after the JSON round trip, ignoring key order", () => {
    const event = newEvent("A", { a: 1, b: { c: [1, 2] } });
    const recorded = toRecordedEvent(stored(event));
    expect(sameContent(recorded, { ...event, data: { b: { c: [1, 2] }, a: 1 } })).toBe(true);
    expect(sameContent(recorded, { ...event, data: { a: 2, b: { c: [1, 2] } } })).toBe(false);
    expect(sameContent(recorded, { ...event, schemaVersion: 3 })).toBe(false);
    expect(sameContent(recorded, { ...event, type: "B" })).toBe(false);
    expect(sameContent(recorded, { ...event, metadata: { ...metadata, actor: "someone-else" } })).toBe(false);
  });
});

describe("appends and reads are checked before any I/O", () => {
  it("refuses an append that repeats an event id as the port's DuplicateEventIdError, naming each repeated id once", () => {
    // Defect 9: it was an InvalidAppendError, which the command side answers with a 500. The writer splits a
    // batch on DuplicateEventIdError, so the command that repeats the id gets its own answer, not its neighbours.
    const [a, b] = [newEvent("X"), newEvent("Y")];
    let thrown: unknown;
    try {
      checkAppend("acc-1", [a, b, a, newEvent("Z"), b, a]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DuplicateEventIdError);
    expect(thrown).toMatchObject({ stream: "acc-1", eventIds: [a.eventId, b.eventId], repeatedInAppend: true });
  });

  it("refuses empty, oversized, repeated-id, system-typed appends and bad stream names", () => {
    expect(() => {
      checkAppend("acc-1", []);
    }).toThrow(InvalidAppendError);
    expect(() => {
      checkAppend("acc-1", Array.from({ length: 10_001 }, () => newEvent("X")));
    }).toThrow(InvalidAppendError);
    const event = newEvent("X");
    expect(() => {
      checkAppend("acc-1", [event, event]);
    }).toThrow(/repeats/);
    expect(() => {
      checkAppend("acc-1", [newEvent("$metadata")]);
    }).toThrow(InvalidAppendError);
    expect(() => {
      checkAppend("$all", [newEvent("X")]);
    }).toThrow(InvalidAppendError);
    expect(() => {
      checkAppend("no_dash", [newEvent("X")]);
    }).toThrow(InvalidAppendError);
    expect(() => {
      checkAppend("acc-1", Array.from({ length: 10_000 }, () => newEvent("X")));
    }).not.toThrow();
  });

  it("bounds maxCount to 1..READ_COUNT_MAX with a default of 1000", () => {
    expect(checkCount(undefined)).toBe(1000);
    expect(checkCount(1)).toBe(1);
    expect(checkCount(10_000)).toBe(10_000);
    expect(() => checkCount(0)).toThrow(RangeError);
    expect(() => checkCount(10_001)).toThrow(RangeError);
    expect(() => checkCount(1.5)).toThrow(RangeError);
  });
});

describe("selecting events from $all", () => {
  it("skips the record at `after` (reads are inclusive), system events and non-matching ones", () => {
    const records = [
      at(10n),
      at(20n, { streamId: "$stats-127.0.0.1:2113", type: "$statsCollected" }),
      at(30n, { type: "$>" }),
      at(40n, { streamId: "other-1" }),
      at(50n),
    ];
    const page = pickMatching(records, { after: encodePosition(10n, 10n), filter: { categories: ["acc"] }, countMax: 10 });
    expect(page.events.map((e) => e.position)).toEqual([encodePosition(50n, 50n)]);
    expect(page.lastSeen).toBe(encodePosition(50n, 50n));
  });

  it("post-filters event types exactly where the server's prefix filter over-matches", () => {
    const odd = at(1n, {}, newEvent("Odd"));
    const oddOne = at(2n, { type: "OddOne" }, newEvent("OddOne"));
    const page = pickMatching([odd, oddOne], { after: undefined, filter: { eventTypes: ["Odd"] }, countMax: 10 });
    expect(page.events.map((e) => e.type)).toEqual(["Odd"]);
    expect(page.lastSeen).toBe(encodePosition(2n, 2n));
  });

  it("stops at countMax and reports how far it looked", () => {
    const page = pickMatching([at(1n), at(2n), at(3n)], { after: undefined, filter: undefined, countMax: 2 });
    expect(page.events).toHaveLength(2);
    expect(page.lastSeen).toBe(encodePosition(2n, 2n));
  });

  it("reports nothing seen when every record is at or before `after`", () => {
    const page = pickMatching([at(5n), at(4n)], { after: encodePosition(5n, 5n), filter: undefined, countMax: 2 });
    expect(page).toEqual({ events: [], lastSeen: undefined });
  });

  it("does not decode records it skips, so foreign events elsewhere do not break a filtered read", () => {
    const foreign = at(1n, { streamId: "legacy-1", metadata: "not ours" });
    const page = pickMatching([foreign, at(2n)], { after: undefined, filter: { categories: ["acc"] }, countMax: 10 });
    expect(page.events).toHaveLength(1);
  });
});

describe("server-side filter", () => {
  it("filters by category prefix `category-` when categories are given", () => {
    const filter = toServerFilter({ categories: ["acc", "ledger"], eventTypes: ["Odd"] });
    expect(filter).toMatchObject({ filterOn: "streamName", prefixes: ["acc-", "ledger-"] });
  });

  it("filters by event type prefix when only types are given", () => {
    expect(toServerFilter({ eventTypes: ["Odd"] })).toMatchObject({ filterOn: "eventType", prefixes: ["Odd"] });
  });

  it("otherwise excludes system events, with the tuning stated", () => {
    const filter = toServerFilter(undefined);
    expect(filter).toMatchObject({ filterOn: "eventType", regex: "^[^$].*", checkpointInterval: 1, maxSearchWindow: 1000 });
    expect(toServerFilter({ categories: [] })).toMatchObject({ regex: "^[^$].*" });
  });
});

/** A gRPC ServiceError as @grpc/grpc-js makes it: numeric code, details, metadata. */
function grpcError(code: number, map: Record<string, string> = {}): Error {
  return Object.assign(new Error(`${code} grpc failure`), { code, details: "grpc failure", metadata: { getMap: () => map } });
}

describe("error mapping", () => {
  it("maps unavailability, deadlines, a lost leader and refused connections to StoreUnavailable", () => {
    const unavailable = [
      new UnavailableError(),
      new DeadlineExceededError(),
      grpcError(14),
      grpcError(4),
      grpcError(2, { exception: "not-leader", "leader-endpoint-host": "node2", "leader-endpoint-port": "2113" }),
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:2113"), { code: "ECONNREFUSED" }),
      new Error("Failed to discover after 10 attempts."),
    ];
    for (const error of unavailable) {
      const mapped = mapEsdbError(error);
      expect(mapped).toBeInstanceOf(StoreUnavailableError);
      expect((mapped as StoreUnavailableError).cause).toBe(error);
    }
  });

  it("leaves other failures as they are: they are bugs or configuration", () => {
    const denied = new AccessDeniedError();
    expect(mapEsdbError(denied)).toBe(denied);
    const plain = new TypeError("boom");
    expect(mapEsdbError(plain)).toBe(plain);
  });

  it("maps a wrong expected version to WrongExpectedRevision with the actual revision", () => {
    const behind = new WrongExpectedVersionError(undefined, { streamName: "acc-1", expected: 0n, current: 3n });
    const mapped = mapAppendError(behind, "acc-1", 0n);
    expect(mapped).toBeInstanceOf(WrongExpectedRevisionError);
    expect(mapped).toMatchObject({ stream: "acc-1", expected: 0n, actual: 3n });
    const missing = new WrongExpectedVersionError(undefined, { streamName: "acc-1", expected: STREAM_EXISTS, current: NO_STREAM });
    expect(mapAppendError(missing, "acc-1", "exists")).toMatchObject({ expected: "exists", actual: "no-stream" });
  });

  it("maps a wrong expected version reported as a raw gRPC error, too", () => {
    const raw = grpcError(9, { exception: "wrong-expected-version", "stream-name": "acc-1", "expected-version": "0", "actual-version": "2" });
    expect(mapAppendError(raw, "acc-1", 0n)).toMatchObject({ name: "WrongExpectedRevisionError", actual: 2n });
  });

  it("maps an oversized append to InvalidAppend, and unavailability during an append to StoreUnavailable", () => {
    expect(mapAppendError(MaxAppendSizeExceededError.fromMaxAppendSize(1024), "acc-1", "any")).toBeInstanceOf(InvalidAppendError);
    expect(mapAppendError(new UnavailableError(), "acc-1", "any")).toBeInstanceOf(StoreUnavailableError);
  });

  it("maps the client's StreamNotFound on a read to the port's", () => {
    const mapped = mapReadStreamError(new EsdbStreamNotFoundError(undefined, "acc-1"), "acc-1");
    expect(mapped).toBeInstanceOf(StreamNotFoundError);
    expect(mapped).toMatchObject({ stream: "acc-1" });
    expect(mapReadStreamError(new UnavailableError(), "acc-1")).toBeInstanceOf(StoreUnavailableError);
  });

  it("keeps DuplicateEventId distinct from a conflict (both are port errors, neither is retried blindly)", () => {
    expect(new DuplicateEventIdError("acc-1", ["id"])).not.toBeInstanceOf(WrongExpectedRevisionError);
  });
});

/** A stand-in for the client's StreamingRead: an object-mode stream that can be cancelled. */
function fakeRead(): PassThrough & { cancel(): Promise<void>; cancelled: boolean } {
  const stream = new PassThrough({ objectMode: true });
  const read = Object.assign(stream, {
    cancelled: false,
    cancel: () => {
      read.cancelled = true;
      return Promise.resolve();
    },
  });
  return read;
}

describe("bounded reads", () => {
  it("collects every item until the read ends", async () => {
    const read = fakeRead();
    const items = collect<number>(read, { timeoutMs: 1_000, countMax: 3 });
    read.write(1);
    read.write(2);
    read.end(3);
    expect(await items).toEqual([1, 2, 3]);
  });

  it("gives up after timeoutMs with StoreUnavailable and cancels the call", async () => {
    const read = fakeRead();
    const items = collect<number>(read, { timeoutMs: 20, countMax: 3 });
    read.write(1);
    await expect(items).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(read.cancelled).toBe(true);
    expect(read.destroyed).toBe(true);
  });

  it("fails loudly when the server sends more than asked for", async () => {
    const read = fakeRead();
    const items = collect<number>(read, { timeoutMs: 1_000, countMax: 1 });
    read.write(1);
    read.write(2);
    await expect(items).rejects.toThrow(/more than/);
  });

  it("passes the read's own error through, and survives a late error after settling", async () => {
    const read = fakeRead();
    const items = collect<number>(read, { timeoutMs: 1_000, countMax: 1 });
    const failure = new UnavailableError();
    read.destroy(failure);
    await expect(items).rejects.toBe(failure);
    // Without a listener left on the stream this would be an uncaught 'error' event.
    read.emit("error", new Error("late"));
  });

  it("bounds a promise with no other bound, saying its outcome is unknown", async () => {
    const never = new Promise<never>(() => undefined);
    await expect(withTimeout(never, { timeoutMs: 20, what: "append to acc-1" })).rejects.toThrow(/append to acc-1 timed out after 20 ms; its outcome is unknown/);
    await expect(withTimeout(Promise.resolve(5), { timeoutMs: 20, what: "x" })).resolves.toBe(5);
  });
});

describe("an unreachable server", () => {
  it("surfaces as StoreUnavailable from every operation, through the real client", async () => {
    const store = EventStoreDbEventStore.connect("esdb://127.0.0.1:1?tls=false", { appendTimeoutMs: 3_000, readTimeoutMs: 3_000 });
    try {
      // ESDB has no transaction to hold a guard or a companion write: the capability is absent, not faked.
      expect(store.capabilities.transactionalAppend).toBeUndefined();
      const stream = streamName("acc", "1");
      await expect(store.append(stream, [newEvent("A")], { expectedRevision: "any" })).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.readStream(stream)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.readAll({ maxCount: 10 })).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.headPosition()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(firstValueFrom(observeSubscription(() => store.subscribe()).pipe(timeout(5_000)))).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
