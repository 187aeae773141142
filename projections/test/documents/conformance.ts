// The document-sink conformance suite: the behaviour every adapter of the
// port must show. postgres.test.ts runs it always; mongo.test.ts runs the
// same suite when MONGO_URL is set. Each test writes fresh random
// collections and projection names, so the suite can share one store.
//
// What it proves: set / setOnInsert / push semantics (bounded histories with
// a visible dropped count), several changes of one event to one document in
// ordinal order, the position guard (a replayed batch changes no byte, an
// older change is ignored), a forward-only checkpoint, a crash between the
// document write and the checkpoint healed by a replay, list pagination that
// returns every match exactly once in a total order (ties, absent keys,
// both directions), count, every limit (document size, batch size, names,
// values neither store can hold) refused with a typed error before anything
// of the batch is written, unicode and large strings intact, and two sink
// instances applying the same batches at once ending as one applying them once.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonValue } from "@trueup/contracts";
import { encodePosition } from "@trueup/event-store";
import type { Position } from "@trueup/event-store";
import { DOCUMENT_LIMITS, DocumentBatchTooLargeError, DocumentTooLargeError, InvalidDocumentInputError, TransientDocumentError } from "../../src/documents/index.ts";
import type { DocumentChange, DocumentOrder, DocumentSink, DocumentWhere, StoredDocument } from "../../src/documents/index.ts";

export interface DocumentSinkTarget {
  readonly sink: DocumentSink;
  /** A second sink on the same store with its own connections. */
  another(): Promise<DocumentSink>;
  close(): Promise<void>;
}

export function pos(major: number, minor = 0): Position {
  return encodePosition(BigInt(major), BigInt(minor));
}

export function freshName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/** Every document of the collections, in id order, paged through the port: what two builds are compared by. */
export async function snapshotDocuments(sink: DocumentSink, collections: readonly string[]): Promise<Record<string, StoredDocument[]>> {
  const result: Record<string, StoredDocument[]> = {};
  for (const collection of collections) {
    const documents: StoredDocument[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const listed = await sink.list(collection, { limit: DOCUMENT_LIMITS.listLimitMax, ...(after === undefined ? {} : { after }) });
      documents.push(...listed.documents.map((document) => ({ ...document, collection: "*" })));
      after = listed.next;
      if (after === undefined) break;
    }
    result[collection] = documents;
  }
  return result;
}

/** The documents as text, byte for byte as read back. */
async function text(sink: DocumentSink, collections: readonly string[]): Promise<string> {
  return JSON.stringify(await snapshotDocuments(sink, collections));
}

function change(collection: string, id: string, position: Position, ordinal: number, parts: Pick<DocumentChange, "set" | "setOnInsert" | "push"> = {}): DocumentChange {
  return { collection, id, position, ordinal, ...parts };
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** A deterministic mix of set, setOnInsert and push over a few documents, several changes per event to some. */
function mixedBatch(collections: readonly string[], fromMajor: number, events: number): DocumentChange[] {
  const changes: DocumentChange[] = [];
  for (let e = 0; e < events; e++) {
    const position = pos(fromMajor + e);
    const perEvent = new Map<string, number>();
    for (let k = 0; k < 3; k++) {
      // k = 0 and k = 2 change the same document: two changes of one event to it (ordinals 0 and 1).
      const slot = k === 2 ? 0 : k;
      const collection = collections[(e + slot) % collections.length] ?? "";
      const id = `doc${(e * 7 + slot * 3) % 15}`;
      const key = `${collection}/${id}`;
      const ordinal = perEvent.get(key) ?? 0;
      perEvent.set(key, ordinal + 1);
      changes.push(
        change(collection, id, position, ordinal, {
          setOnInsert: { firstSeen: position },
          set: { last: `${e}.${k}`, amountMinor: String(BigInt(e) * 1_000_000_007n) },
          push: { history: { values: [`${e}:${k}`], keepLast: 4 } },
        }),
      );
    }
  }
  return changes;
}

export function describeDocumentSinkConformance(adapter: string, open: () => Promise<DocumentSinkTarget>): void {
  describe(`document sink conformance: ${adapter}`, () => {
    let target: DocumentSinkTarget;
    let sink: DocumentSink;
    beforeAll(async () => {
      target = await open();
      sink = target.sink;
    });
    afterAll(async () => {
      await target.close();
    });

    describe("writing", () => {
      it("creates a document from set and setOnInsert, and reads it back with its guard and the checkpoint", async () => {
        const c = freshName("c");
        const p = freshName("p");
        expect(await sink.readCheckpoint(p)).toBeUndefined();
        await sink.applyBatch(p, [change(c, "a", pos(1), 0, { setOnInsert: { createdAt: "2025-01-01" }, set: { status: "open", amountMinor: "123456789012345678901234567890", n: 7, ok: true, none: null } })], pos(1));
        expect(await sink.get(c, "a")).toEqual({
          collection: c,
          id: "a",
          body: { createdAt: "2025-01-01", status: "open", amountMinor: "123456789012345678901234567890", n: 7, ok: true, none: null },
          applied: { position: pos(1), ordinal: 0 },
        });
        expect(await sink.readCheckpoint(p)).toBe(pos(1));
        expect(await sink.get(c, "missing")).toBeUndefined();
        expect(await sink.get(freshName("never"), "a")).toBeUndefined();
      });

      it("writes setOnInsert only when the change creates the document; set overwrites; other fields stay", async () => {
        const c = freshName("c");
        const p = freshName("p");
        await sink.applyBatch(p, [change(c, "a", pos(1), 0, { setOnInsert: { createdAt: "first", kind: "x" }, set: { status: "open", note: "keep" } })], pos(1));
        await sink.applyBatch(p, [change(c, "a", pos(2), 0, { setOnInsert: { createdAt: "second", extra: 1 }, set: { status: "closed" } })], pos(2));
        expect((await sink.get(c, "a"))?.body).toEqual({ createdAt: "first", kind: "x", status: "closed", note: "keep" });
      });

      it("pushes onto a bounded history, keeps the last keepLast and counts what it dropped", async () => {
        const c = freshName("c");
        const p = freshName("p");
        const push = async (major: number, values: JsonValue[], keepLast: number): Promise<unknown> => {
          await sink.applyBatch(p, [change(c, "h", pos(major), 0, { push: { history: { values, keepLast } } })], pos(major));
          const body = (await sink.get(c, "h"))?.body;
          return { history: body?.history, historyDropped: body?.historyDropped };
        };
        expect(await push(1, [1, 2, 3], 2)).toEqual({ history: [2, 3], historyDropped: 1 });
        expect(await push(2, [4], 2)).toEqual({ history: [3, 4], historyDropped: 2 });
        expect(await push(3, [5, 6, 7], 2)).toEqual({ history: [6, 7], historyDropped: 5 });
        expect(await push(4, [], 2)).toEqual({ history: [6, 7], historyDropped: 5 });
        // keepLast is the change's: a later change may keep more (or fewer).
        expect(await push(5, [{ at: "8", nested: [1, [2]] }], 5)).toEqual({ history: [6, 7, { at: "8", nested: [1, [2]] }], historyDropped: 5 });
        expect(await push(6, ["x"], 1)).toEqual({ history: ["x"], historyDropped: 8 });
        // Two fields in one change, one of them new; the first push of a field counts 0 dropped, visibly.
        await sink.applyBatch(p, [change(c, "h", pos(7), 0, { push: { history: { values: ["y"], keepLast: 2 }, other: { values: ["o"], keepLast: 3 } } })], pos(7));
        expect((await sink.get(c, "h"))?.body).toEqual({ history: ["x", "y"], historyDropped: 8, other: ["o"], otherDropped: 0 });
      });

      it("keeps exactly keepLastMax at the bound, with the largest push a change may carry", async () => {
        const c = freshName("c");
        const p = freshName("p");
        const { keepLastMax, pushValuesMax } = DOCUMENT_LIMITS;
        const values = Array.from({ length: pushValuesMax }, (_, i) => i);
        await sink.applyBatch(p, [change(c, "b", pos(1), 0, { push: { h: { values, keepLast: keepLastMax } } })], pos(1));
        await sink.applyBatch(p, [change(c, "b", pos(2), 0, { push: { h: { values: [pushValuesMax], keepLast: keepLastMax } } })], pos(2));
        const body = (await sink.get(c, "b"))?.body;
        expect(body?.h).toEqual(Array.from({ length: keepLastMax }, (_, i) => pushValuesMax + 1 - keepLastMax + i));
        expect(body?.hDropped).toBe(pushValuesMax + 1 - keepLastMax);
      });

      it("treats a null field as an empty history and refuses to push onto a field holding anything else", async () => {
        const c = freshName("c");
        const p = freshName("p");
        await sink.applyBatch(p, [change(c, "n", pos(1), 0, { set: { h: null, t: "text" } })], pos(1));
        await sink.applyBatch(p, [change(c, "n", pos(2), 0, { push: { h: { values: ["a"], keepLast: 2 } } })], pos(2));
        expect((await sink.get(c, "n"))?.body).toEqual({ h: ["a"], hDropped: 0, t: "text" });
        const before = await sink.get(c, "n");
        const refused = await sink.applyBatch(p, [change(c, "n", pos(3), 0, { push: { t: { values: ["b"], keepLast: 2 } } })], pos(3)).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(Error);
        expect(refused).not.toBeInstanceOf(TransientDocumentError);
        expect(await sink.get(c, "n")).toEqual(before);
        expect(await sink.readCheckpoint(p)).toBe(pos(2));
      });

      it("applies every change one event makes to one document, in ordinal order", async () => {
        const c = freshName("c");
        const p = freshName("p");
        await sink.applyBatch(
          p,
          [
            change(c, "o", pos(5), 0, { setOnInsert: { created: 0 }, set: { a: 1 }, push: { h: { values: ["x"], keepLast: 3 } } }),
            change(c, "o", pos(5), 1, { setOnInsert: { created: 1 }, set: { a: 2 }, push: { h: { values: ["y"], keepLast: 3 } } }),
            change(c, "o", pos(5), 2, { set: { b: true } }),
            change(c, "o", pos(6), 0, { push: { h: { values: ["z", "w"], keepLast: 3 } } }),
          ],
          pos(6),
        );
        expect(await sink.get(c, "o")).toEqual({ collection: c, id: "o", body: { created: 0, a: 2, b: true, h: ["y", "z", "w"], hDropped: 1 }, applied: { position: pos(6), ordinal: 0 } });
      });

      it("leaves every byte as it was when the same batch is applied again, whole, in part or change by change", async () => {
        const collections = [freshName("c"), freshName("c")];
        const p = freshName("p");
        const batch = mixedBatch(collections, 100, 20);
        await sink.applyBatch(p, batch, pos(119));
        const once = await text(sink, collections);
        await sink.applyBatch(p, batch, pos(119));
        await sink.applyBatch(p, batch.slice(0, 25), pos(110));
        for (const single of batch.slice(30, 45)) await sink.applyBatch(p, [single], single.position);
        await sink.writeDocuments(batch);
        expect(await text(sink, collections)).toBe(once);
        expect(await sink.readCheckpoint(p)).toBe(pos(119));
      });

      it("ignores a change at or below the document's guard, and applies one above it", async () => {
        const c = freshName("c");
        const p = freshName("p");
        await sink.applyBatch(p, [change(c, "g", pos(10), 0, { set: { x: "a" } }), change(c, "g", pos(10), 1, { set: { x: "b" }, push: { h: { values: [1], keepLast: 5 } } })], pos(10));
        const guarded = await sink.get(c, "g");
        expect(guarded?.applied).toEqual({ position: pos(10), ordinal: 1 });
        for (const [major, minor, ordinal] of [[9, 0, 5], [10, 0, 0], [10, 0, 1], [3, 7, 0]] as const) {
          await sink.applyBatch(p, [change(c, "g", pos(major, minor), ordinal, { set: { x: "older" }, setOnInsert: { y: 1 }, push: { h: { values: [2], keepLast: 5 } } })], pos(10));
        }
        expect(await sink.get(c, "g")).toEqual(guarded);
        // In one batch, an old change to a guarded document is skipped while a new document takes its own.
        await sink.applyBatch(p, [change(c, "g", pos(9), 0, { set: { x: "older" } }), change(c, "fresh", pos(9), 0, { set: { x: "new" } })], pos(10));
        expect(await sink.get(c, "g")).toEqual(guarded);
        expect((await sink.get(c, "fresh"))?.body).toEqual({ x: "new" });
        await sink.applyBatch(p, [change(c, "g", pos(10), 2, { set: { x: "c" }, push: { h: { values: [3], keepLast: 5 } } })], pos(10));
        expect(await sink.get(c, "g")).toEqual({ collection: c, id: "g", body: { x: "c", h: [1, 3], hDropped: 0 }, applied: { position: pos(10), ordinal: 2 } });
      });

      it("never moves a checkpoint back", async () => {
        const c = freshName("c");
        const p = freshName("p");
        await sink.applyBatch(p, [], pos(20));
        expect(await sink.readCheckpoint(p)).toBe(pos(20));
        await sink.applyBatch(p, [change(c, "late", pos(5), 0, { set: { v: 1 } })], pos(5));
        expect(await sink.readCheckpoint(p)).toBe(pos(20));
        expect(await sink.advanceCheckpoint(p, pos(19))).toBe(false);
        expect(await sink.advanceCheckpoint(p, pos(20))).toBe(false);
        expect(await sink.advanceCheckpoint(p, pos(20, 1))).toBe(true);
        expect(await sink.readCheckpoint(p)).toBe(pos(20, 1));
        // Projections keep their own checkpoints.
        const other = freshName("p");
        expect(await sink.advanceCheckpoint(other, pos(1))).toBe(true);
        expect(await sink.readCheckpoint(p)).toBe(pos(20, 1));
      });

      it("heals a crash between the document write and the checkpoint: the replayed batch equals one clean application", async () => {
        const crashed = [freshName("c"), freshName("c")];
        const clean = [freshName("c"), freshName("c")];
        const p = freshName("p");
        const q = freshName("p");
        const first = mixedBatch(crashed, 1, 10);
        await sink.applyBatch(p, first, pos(10));
        const second = mixedBatch(crashed, 11, 10);
        // The documents of the second batch, some of them only, are written; the process dies before the checkpoint.
        await sink.writeDocuments(second.slice(0, 17));
        expect(await sink.readCheckpoint(p)).toBe(pos(10));
        await sink.applyBatch(p, second, pos(20));
        await sink.applyBatch(q, [...mixedBatch(clean, 1, 10), ...mixedBatch(clean, 11, 10)], pos(20));
        expect(Object.values(await snapshotDocuments(sink, crashed))).toEqual(Object.values(await snapshotDocuments(sink, clean)));
        expect(await sink.readCheckpoint(p)).toBe(pos(20));
      });

      it("ends identical when two sink instances apply the same batches at once", async () => {
        const raced = [freshName("c"), freshName("c")];
        const clean = [freshName("c"), freshName("c")];
        const p = freshName("p");
        const second = await target.another();
        try {
          const batches = [mixedBatch(raced, 1, 15), mixedBatch(raced, 16, 15), mixedBatch(raced, 31, 15)];
          // Both instances apply every batch concurrently; the second one also starts one batch behind.
          for (const [index, batch] of batches.entries()) {
            const checkpoint = pos(15 * (index + 1));
            const behind = index > 0 ? batches[index - 1] : undefined;
            await Promise.all([
              sink.applyBatch(p, batch, checkpoint),
              second.applyBatch(p, batch, checkpoint),
              behind === undefined ? Promise.resolve() : second.applyBatch(p, behind, pos(15 * index)),
            ]);
          }
          await sink.applyBatch(freshName("p"), [...mixedBatch(clean, 1, 15), ...mixedBatch(clean, 16, 15), ...mixedBatch(clean, 31, 15)], pos(45));
          expect(Object.values(await snapshotDocuments(sink, raced))).toEqual(Object.values(await snapshotDocuments(sink, clean)));
          expect(Object.values(await snapshotDocuments(second, raced))).toEqual(Object.values(await snapshotDocuments(sink, clean)));
          expect(await sink.readCheckpoint(p)).toBe(pos(45));
        } finally {
          await second.close();
        }
      });

      it("resets a projection: its collections' documents and its checkpoint go, nothing else", async () => {
        const [a, b, kept] = [freshName("c"), freshName("c"), freshName("c")];
        const p = freshName("p");
        const other = freshName("p");
        await sink.applyBatch(p, [change(a, "1", pos(1), 0, { set: { v: 1 } }), change(b, "2", pos(1), 0, { set: { v: 2 } })], pos(1));
        await sink.applyBatch(other, [change(kept, "3", pos(1), 0, { set: { v: 3 } })], pos(2));
        await sink.reset(p, [a, b]);
        expect(await sink.readCheckpoint(p)).toBeUndefined();
        expect(await sink.get(a, "1")).toBeUndefined();
        expect(await sink.count(b)).toBe(0);
        expect((await sink.get(kept, "3"))?.body).toEqual({ v: 3 });
        expect(await sink.readCheckpoint(other)).toBe(pos(2));
        // A rebuild from zero then applies the first positions again.
        await sink.applyBatch(p, [change(a, "1", pos(1), 0, { set: { v: 10 } })], pos(1));
        expect((await sink.get(a, "1"))?.body).toEqual({ v: 10 });
        await sink.reset(p, [freshName("never")]);
      });
    });

    describe("reading", () => {
      const collection = freshName("listed");
      const ranks: readonly (JsonValue | undefined)[] = ["b", "a", "c", "ä", "日本", "B", "a", undefined, 7, null, "b", "\u{1F600}", "\uffee"];
      const bodies = new Map<string, Record<string, JsonValue>>();
      const ids = ["é1", "z", "Ä", "a b", "日本-1", "\u{1F600}x"];

      beforeAll(async () => {
        const changes: DocumentChange[] = [];
        for (let i = 0; i < 41; i++) {
          const id = ids[i] ?? `d${String(i).padStart(2, "0")}`;
          const body: Record<string, JsonValue> = { status: i % 3 === 0 ? "closed" : "open", flagged: i % 2 === 0, n: i };
          const rank = ranks[i % ranks.length];
          if (rank !== undefined) body.rank = rank;
          bodies.set(id, body);
          changes.push(change(collection, id, pos(1), 0, { set: body }));
        }
        // An array never matches an equality, though it holds the value.
        bodies.set("arr", { status: ["open"], flagged: [true], n: 99, rank: "a" });
        changes.push(change(collection, "arr", pos(1), 0, { set: { status: ["open"], flagged: [true], n: 99, rank: "a" } }));
        await sink.applyBatch(freshName("p"), changes, pos(1));
      });

      function expected(where: DocumentWhere, orderBy: DocumentOrder | undefined): string[] {
        const matching = [...bodies].filter(([, body]) => Object.entries(where).every(([field, value]) => body[field] === value));
        const key = (body: Record<string, JsonValue>): string | null => {
          const value = orderBy === undefined ? undefined : body[orderBy.field];
          return typeof value === "string" ? value : null;
        };
        const ascending = matching.sort(([idA, a], [idB, b]) => {
          const [ka, kb] = [key(a), key(b)];
          if (ka !== kb) return ka === null ? -1 : kb === null ? 1 : utf8Compare(ka, kb);
          return utf8Compare(idA, idB);
        });
        const order = ascending.map(([id]) => id);
        return orderBy?.direction === "desc" ? order.reverse() : order;
      }

      async function pageThrough(where: DocumentWhere, orderBy: DocumentOrder | undefined, limit: number): Promise<{ ids: string[]; pages: number }> {
        const seen: string[] = [];
        let after: string | undefined;
        let pages = 0;
        for (; pages < 1_000; ) {
          const page = await sink.list(collection, { where, limit, ...(orderBy === undefined ? {} : { orderBy }), ...(after === undefined ? {} : { after }) });
          pages += 1;
          expect(page.documents.length).toBeLessThanOrEqual(limit);
          for (const document of page.documents) {
            expect(document.body).toEqual(bodies.get(document.id));
            seen.push(document.id);
          }
          after = page.next;
          if (after === undefined) break;
        }
        return { ids: seen, pages };
      }

      it("lists every match exactly once, in a total order (ties broken by id, absent keys first ascending), over many pages", async () => {
        const orders: (DocumentOrder | undefined)[] = [undefined, { field: "rank", direction: "asc" }, { field: "rank", direction: "desc" }, { field: "nothing", direction: "asc" }];
        const wheres: DocumentWhere[] = [{}, { status: "open" }, { status: "open", flagged: true }, { flagged: false }, { status: "nobody" }];
        for (const orderBy of orders) {
          for (const where of wheres) {
            const want = expected(where, orderBy);
            for (const limit of [1, 4, DOCUMENT_LIMITS.listLimitMax]) {
              const { ids: got, pages } = await pageThrough(where, orderBy, limit);
              expect(got, JSON.stringify({ orderBy, where, limit })).toEqual(want);
              if (limit < want.length) expect(pages).toBeGreaterThan(1);
            }
          }
        }
        expect(expected({ status: "open" }, undefined)).not.toContain("arr");
      });

      it("refuses a cursor made for another order, or none at all", async () => {
        const page = await sink.list(collection, { orderBy: { field: "rank", direction: "asc" }, limit: 2 });
        expect(page.next).toBeDefined();
        const after = page.next ?? "";
        await expect(sink.list(collection, { orderBy: { field: "rank", direction: "desc" }, after, limit: 2 })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.list(collection, { after, limit: 2 })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        for (const bad of ["", "not a cursor!", "eyJ4IjoxfQ", "x".repeat(DOCUMENT_LIMITS.cursorLengthMax + 1)]) {
          await expect(sink.list(collection, { after: bad, limit: 2 })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        }
      });

      it("counts matches, and nothing in an empty or unknown collection", async () => {
        expect(await sink.count(collection)).toBe(42);
        expect(await sink.count(collection, { status: "open" })).toBe(expected({ status: "open" }, undefined).length);
        expect(await sink.count(collection, { status: "open", flagged: true })).toBe(expected({ status: "open", flagged: true }, undefined).length);
        expect(await sink.count(freshName("empty"))).toBe(0);
        expect(await sink.list(freshName("empty"), { limit: 10 })).toEqual({ documents: [], next: undefined });
      });

      it("refuses list and count options past their limits", async () => {
        for (const limit of [0, -1, 1.5, DOCUMENT_LIMITS.listLimitMax + 1]) await expect(sink.list(collection, { limit })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        const tooMany = Object.fromEntries(Array.from({ length: DOCUMENT_LIMITS.whereFieldsMax + 1 }, (_, i) => [`f${i}`, "x"]));
        await expect(sink.count(collection, tooMany)).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.list(collection, { where: { n: 1 } as unknown as DocumentWhere, limit: 1 })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.list(collection, { where: { _id: "x" }, limit: 1 })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.list(collection, { orderBy: { field: "_applied", direction: "asc" }, limit: 1 })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.list("Bad", { limit: 1 })).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.get(collection, "")).rejects.toBeInstanceOf(InvalidDocumentInputError);
      });
    });

    describe("limits and bad input", () => {
      it("refuses a change that alone is over the size limit, writing nothing of its batch", async () => {
        const c = freshName("c");
        const p = freshName("p");
        const big = "x".repeat(DOCUMENT_LIMITS.sizeBytesMax);
        const refused = await sink.applyBatch(p, [change(c, "ok", pos(1), 0, { set: { v: 1 } }), change(c, "big", pos(1), 0, { set: { big } })], pos(1)).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(DocumentTooLargeError);
        expect(refused).toMatchObject({ collection: c, id: "big", sizeBytesMax: DOCUMENT_LIMITS.sizeBytesMax });
        expect(await sink.get(c, "ok")).toBeUndefined();
        expect(await sink.readCheckpoint(p)).toBeUndefined();
      });

      it("refuses a write that would grow a document past the size limit; the document and the checkpoint stay as they were", async () => {
        const c = freshName("c");
        const p = freshName("p");
        const chunk = (i: number): string => `${i}`.padEnd(100_000, "y");
        await sink.applyBatch(p, [change(c, "grow", pos(1), 0, { push: { h: { values: Array.from({ length: 8 }, (_, i) => chunk(i)), keepLast: 20 } } })], pos(1));
        const before = await sink.get(c, "grow");
        const refused = await sink
          .applyBatch(p, [change(c, "another", pos(2), 0, { set: { v: 1 } }), change(c, "grow", pos(2), 0, { push: { h: { values: [chunk(8), chunk(9), chunk(10)], keepLast: 20 } } })], pos(2))
          .catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(DocumentTooLargeError);
        expect(refused).toMatchObject({ collection: c, id: "grow" });
        expect(await sink.get(c, "grow")).toEqual(before);
        expect(await sink.readCheckpoint(p)).toBe(pos(1));
        // All or nothing where the adapter promises it; elsewhere what came before the refused write may be
        // written, and its guard makes the batch's replay harmless.
        if (sink.capabilities.atomicBatch) expect(await sink.get(c, "another")).toBeUndefined();
        // The sink goes on working, and a history cut short enough fits again.
        await sink.applyBatch(p, [change(c, "grow", pos(3), 0, { push: { h: { values: [chunk(11)], keepLast: 2 } } })], pos(3));
        expect((await sink.get(c, "grow"))?.body).toEqual({ h: [chunk(7), chunk(11)], hDropped: 7 });
      });

      it("takes a batch of exactly changesPerBatchMax changes and refuses one more, writing nothing", async () => {
        const c = freshName("c");
        const p = freshName("p");
        const { changesPerBatchMax } = DOCUMENT_LIMITS;
        const changes = Array.from({ length: changesPerBatchMax + 1 }, (_, i) => change(c, `d${i % 5_000}`, pos(1 + Math.floor(i / 5_000)), 0, { push: { h: { values: [i], keepLast: 3 } } }));
        const refused = await sink.applyBatch(p, changes, pos(20)).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(DocumentBatchTooLargeError);
        expect(await sink.count(c)).toBe(0);
        await sink.applyBatch(p, changes.slice(0, changesPerBatchMax), pos(20));
        expect(await sink.count(c)).toBe(5_000);
        expect((await sink.get(c, "d0"))?.body).toEqual({ h: [35_000, 40_000, 45_000], hDropped: 7 });
      }, 120_000);

      it("refuses bad collections, ids, fields, values and orderings, writing nothing of the batch", async () => {
        const c = freshName("c");
        const deep: JsonValue = Array.from({ length: DOCUMENT_LIMITS.depthMax }).reduce<JsonValue>((inner) => [inner], "bottom");
        const tooManyFields = Object.fromEntries(Array.from({ length: DOCUMENT_LIMITS.fieldsPerChangeMax + 1 }, (_, i) => [`f${i}`, i]));
        const base = change(c, "bad", pos(1), 0);
        const bad: (readonly [string, Record<string, unknown>])[] = [
          ["upper-case collection", { collection: "Bad" }],
          ["collection starting with a digit", { collection: "1x" }],
          ["empty collection", { collection: "" }],
          ["collection too long", { collection: "a".repeat(64) }],
          ["collection with a dash", { collection: "a-b" }],
          ["empty id", { id: "" }],
          ["id too long", { id: "x".repeat(DOCUMENT_LIMITS.idLengthMax + 1) }],
          ["id with NUL", { id: "a\u0000b" }],
          ["id with a lone surrogate", { id: "\ud800" }],
          ["malformed position", { position: "xyz" }],
          ["upper-case position", { position: pos(0xab).toUpperCase() }],
          ["negative ordinal", { ordinal: -1 }],
          ["fractional ordinal", { ordinal: 1.5 }],
          ["ordinal too large", { ordinal: DOCUMENT_LIMITS.ordinalMax + 1 }],
          ["the sink's _id", { set: { _id: "x" } }],
          ["the sink's guard", { set: { _applied: "x" } }],
          ["a dotted field", { set: { "a.b": 1 } }],
          ["an operator field", { set: { $set: 1 } }],
          ["a dropped counter", { set: { historyDropped: 1 } }],
          ["an empty field name", { set: { "": 1 } }],
          ["NUL in a value", { set: { a: "x\u0000" } }],
          ["lone surrogate in a value", { set: { a: "\udc00x" } }],
          ["NaN", { set: { a: Number.NaN } }],
          ["Infinity", { setOnInsert: { a: Number.POSITIVE_INFINITY } }],
          ["undefined", { set: { a: undefined } }],
          ["undefined in an array", { set: { a: [1, undefined] } }],
          ["bigint", { set: { a: 1n } }],
          ["a Date", { set: { a: new Date(0) } }],
          ["an operator key inside a value", { set: { a: { $where: "1" } } }],
          ["a dotted key inside a value", { set: { a: { "b.c": 1 } } }],
          ["an empty key inside a value", { set: { a: { "": 1 } } }],
          ["NUL in a key inside a value", { set: { a: { "k\u0000": 1 } } }],
          ["nested too deep", { set: { a: [deep] } }],
          ["keepLast 0", { push: { h: { values: [1], keepLast: 0 } } }],
          ["keepLast over the bound", { push: { h: { values: [1], keepLast: DOCUMENT_LIMITS.keepLastMax + 1 } } }],
          ["fractional keepLast", { push: { h: { values: [1], keepLast: 1.5 } } }],
          ["values not an array", { push: { h: { values: "x", keepLast: 1 } } }],
          ["too many values", { push: { h: { values: Array.from({ length: DOCUMENT_LIMITS.pushValuesMax + 1 }, () => 1), keepLast: 1 } } }],
          ["one field in set and push", { set: { h: 1 }, push: { h: { values: [1], keepLast: 1 } } }],
          ["one field in set and setOnInsert", { set: { h: 1 }, setOnInsert: { h: 2 } }],
          ["too many fields", { set: tooManyFields }],
          ["a set that is an array", { set: [1] }],
          ["a change past the checkpoint", { position: pos(3) }],
        ];
        for (const [what, override] of bad) {
          const p = freshName("p");
          const good = change(c, "good", pos(1), 0, { set: { v: 1 } });
          const refused = await sink.applyBatch(p, [good, { ...base, ...override }], pos(2)).catch((error: unknown) => error);
          expect(refused, what).toBeInstanceOf(InvalidDocumentInputError);
          expect(await sink.get(c, "good"), what).toBeUndefined();
          expect(await sink.readCheckpoint(p), what).toBeUndefined();
        }
        // The refusal names the exact place, however deep.
        const placed: (readonly [Record<string, unknown>, string])[] = [
          [{ set: { a: [1, { "b.c": 1 }] } }, "changes[1].set.a[1].b.c"],
          [{ set: { a: { k: ["ok", "x\u0000"] } } }, "changes[1].set.a.k[1]"],
          [{ push: { h: { values: [{ n: Number.NaN }], keepLast: 1 } } }, "changes[1].push.h.values[0].n"],
          [{ setOnInsert: { a: { "": 1 } } }, "changes[1].setOnInsert.a."],
        ];
        for (const [override, path] of placed) {
          const refused = await sink.applyBatch(freshName("p"), [change(c, "good", pos(1), 0, { set: { v: 1 } }), { ...base, ...override }], pos(2)).catch((error: unknown) => error);
          expect(refused, path).toBeInstanceOf(InvalidDocumentInputError);
          expect((refused as InvalidDocumentInputError).path).toBe(path);
        }
        // Within a batch each document's changes must strictly increase: a repeat or a step back is a planning bug.
        for (const [first, second] of [[pos(1), pos(1)], [pos(2), pos(1)]] as const) {
          const batch = [change(c, "twice", first, 0, { set: { v: 1 } }), change(c, "twice", second, 0, { set: { v: 2 } })];
          await expect(sink.applyBatch(freshName("p"), batch, pos(2))).rejects.toBeInstanceOf(InvalidDocumentInputError);
        }
        await expect(sink.applyBatch(freshName("p"), [change(c, "o", pos(1), 1), change(c, "o", pos(1), 0)], pos(1))).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.applyBatch("", [], pos(1))).rejects.toBeInstanceOf(InvalidDocumentInputError);
        await expect(sink.applyBatch(freshName("p"), [], "zz" as Position)).rejects.toBeInstanceOf(InvalidDocumentInputError);
        expect(await sink.count(c)).toBe(0);
      });

      it("round-trips unicode, strings that look like operators, numbers and large strings exactly", async () => {
        const c = freshName("c");
        const p = freshName("p");
        const body: Record<string, JsonValue> = {
          accents: "ünïcødé ✓ \"quoted\" \\ back-slashed",
          family: "👩‍👩‍👧‍👦",
          rtl: "مرحبا بالعالم",
          combining: "e\u0301",
          escapedNul: "\\u0000",
          operator: "$notAnOperator",
          root: "$$ROOT",
          nested: { ключ: { 日本: [1, "二", { a$: "$b" }] }, "with space": true },
          numbers: [0, -5, 0.1, 1e21, 2 ** 53 - 1, -1.5e-7],
          amountMinor: "-123456789012345678901234567890",
          large: "é".repeat(400_000),
        };
        await sink.applyBatch(p, [change(c, "日本-é-\u{1F600}", pos(1), 0, { set: body, push: { history: { values: ["$x", { dollar$: 1 }, "\u{10FFFF}"], keepLast: 5 } } })], pos(1));
        const stored = await sink.get(c, "日本-é-\u{1F600}");
        expect(stored?.body).toEqual({ ...body, history: ["$x", { dollar$: 1 }, "\u{10FFFF}"], historyDropped: 0 });
        expect((await sink.list(c, { limit: 1 })).documents[0]?.id).toBe("日本-é-\u{1F600}");
        expect(await sink.count(c, { operator: "$notAnOperator" })).toBe(1);
      });
    });
  });
}
