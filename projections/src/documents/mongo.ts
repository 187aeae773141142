// The document sink on MongoDB. No transaction spans documents, so a batch
// is exactly-once by two guards instead (capabilities.atomicBatch = false):
//
// - each document's `_applied` holds the (position, ordinal) of the last
//   change applied to it, as one fixed-width hex string (see appliedKey), and
//   every change is one pipeline update that changes the document only when
//   its own key is greater: replaying a batch after a crash rewrites nothing
//   that was written, and writes what was not;
// - the checkpoint document moves only forward and is written after every
//   document of its batch was acknowledged (write concern majority,
//   journaled), so a checkpoint never covers a change a failover could lose.
//
// The filter of each update is `{ _id }` alone and the guard is inside the
// pipeline. The textbook form (guard in the filter, upsert) turns every
// replayed change into an insert attempt that fails with E11000, which in an
// ordered bulk write stops the bulk at each replayed change; with the guard
// inside, a replayed change is a matched update that modifies nothing. E11000
// still happens when two writers create the same document at once: the loser
// retries that operation, which now finds the document and obeys its guard.
// The checkpoint uses the textbook form (one document, one update): there an
// E11000 means "already at or past it".
//
// Changes to one document must apply in order, so each collection's changes
// go in one ordered bulk write, collections one after the other.
import assert from "node:assert/strict";
import { MongoBulkWriteError, MongoClient, MongoError, MongoErrorLabel, MongoNetworkError, MongoServerError, MongoServerSelectionError } from "mongodb";
import type { AnyBulkWriteOperation, Collection, Db, Document, Filter, WriteError } from "mongodb";
import type { Position } from "@trueup/event-store";
import {
  DOCUMENT_LIMITS,
  DROPPED_SUFFIX,
  DocumentTooLargeError,
  TransientDocumentError,
  appliedKey,
  checkBatch,
  checkCollection,
  checkId,
  checkListOptions,
  checkPosition,
  checkProjectionName,
  checkWhere,
  encodeCursor,
  parseAppliedKey,
  sortKey,
  storedBody,
} from "./port.ts";
import type { DocumentChange, DocumentPage, DocumentSink, DocumentSinkCapabilities, DocumentWhere, ListCursor, ListOptions, StoredDocument } from "./port.ts";

/** Database names MongoDB accepts on every platform, bounded. */
export const MONGO_DATABASE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,63}$/;
/** The checkpoints' collection: a leading `_` cannot clash with a port collection name. */
export const MONGO_CHECKPOINTS_COLLECTION = "_trueup_checkpoints";

/** Every driver setting that matters, said explicitly (never the driver's default). */
export const MONGO_SINK_DEFAULTS = {
  poolMax: 10,
  serverSelectionTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  /** A socket silent this long is dead (longer than any single operation may take). */
  socketTimeoutMs: 60_000,
  /** Waiting for a pooled connection. */
  waitQueueTimeoutMs: 10_000,
  /** Server-side bound of each read (maxTimeMS) and of each write's replication wait (wtimeoutMS). */
  operationTimeoutMs: 30_000,
} as const;

/**
 * The size check's refusal: a pipeline stage whose replacement is this string
 * instead of a document fails the update (MongoDB refuses a $replaceWith
 * that does not evaluate to a document, code 40228, and names the value).
 */
const TOO_LARGE_MARKER = "TRUEUP_DOCUMENT_TOO_LARGE";
const REPLACEMENT_NOT_A_DOCUMENT = 40228;
const DUPLICATE_KEY = 11000;
const NAMESPACE_NOT_FOUND = 26;
/** An operation that loses the insert race again and again is not racing: a bug. */
const DUPLICATE_RETRIES_MAX = 3;

/**
 * Server answers that mean "not now" (a failover, a shutdown, a timeout, a
 * write conflict): HostUnreachable 6, HostNotFound 7, MaxTimeMSExpired 50,
 * WriteConcernFailed 64, NetworkTimeout 89, ShutdownInProgress 91,
 * WriteConflict 112, PrimarySteppedDown 189, ExceededTimeLimit 262,
 * SocketException 9001, NotWritablePrimary 10107, InterruptedAtShutdown 11600,
 * InterruptedDueToReplStateChange 11602, NotPrimaryNoSecondaryOk 13435,
 * NotPrimaryOrSecondary 13436.
 */
const TRANSIENT_CODES = new Set([6, 7, 50, 64, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);
const TRANSIENT_LABELS: readonly string[] = [MongoErrorLabel.RetryableWriteError, MongoErrorLabel.TransientTransactionError, MongoErrorLabel.RetryableError, MongoErrorLabel.SystemOverloadedError];

export interface MongoDocumentSinkOptions {
  /** mongodb://… (a replica set in production: see DESIGN.md). */
  readonly url: string;
  readonly databaseName: string;
  readonly poolMax?: number;
  readonly serverSelectionTimeoutMs?: number;
  readonly operationTimeoutMs?: number;
}

interface MongoStoredDocument {
  _id: string;
  _applied: string;
  [field: string]: unknown;
}

interface MongoCheckpoint {
  _id: string;
  position: string;
}

export class MongoDocumentSink implements DocumentSink {
  readonly capabilities: DocumentSinkCapabilities = { atomicBatch: false };
  private readonly client: MongoClient;
  private readonly db: Db;
  private readonly operationTimeoutMs: number;

  private constructor(client: MongoClient, databaseName: string, operationTimeoutMs: number) {
    this.client = client;
    this.db = client.db(databaseName);
    this.operationTimeoutMs = operationTimeoutMs;
  }

  /** Connects a client of its own (close() closes it) and checks the server answers. */
  static async connect(options: MongoDocumentSinkOptions): Promise<MongoDocumentSink> {
    if (!MONGO_DATABASE_NAME_PATTERN.test(options.databaseName)) throw new RangeError(`MongoDB database name must match ${String(MONGO_DATABASE_NAME_PATTERN)}`);
    const operationTimeoutMs = options.operationTimeoutMs ?? MONGO_SINK_DEFAULTS.operationTimeoutMs;
    const client = new MongoClient(options.url, {
      appName: "trueup-documents",
      maxPoolSize: options.poolMax ?? MONGO_SINK_DEFAULTS.poolMax,
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMs ?? MONGO_SINK_DEFAULTS.serverSelectionTimeoutMs,
      connectTimeoutMS: MONGO_SINK_DEFAULTS.connectTimeoutMs,
      socketTimeoutMS: MONGO_SINK_DEFAULTS.socketTimeoutMs,
      waitQueueTimeoutMS: MONGO_SINK_DEFAULTS.waitQueueTimeoutMs,
      retryWrites: true,
      retryReads: true,
      // Majority and journaled: a document write acknowledged before its checkpoint survives a failover with it.
      writeConcern: { w: "majority", journal: true, wtimeoutMS: operationTimeoutMs },
      readConcern: { level: "majority" },
    });
    await mapErrors(() => client.connect());
    return new MongoDocumentSink(client, options.databaseName, operationTimeoutMs);
  }

  async applyBatch(projection: string, changes: readonly DocumentChange[], checkpoint: Position): Promise<void> {
    checkProjectionName(projection);
    await this.write(checkBatch(changes, checkpoint));
    await this.moveCheckpoint(projection, checkpoint);
  }

  async writeDocuments(changes: readonly DocumentChange[]): Promise<void> {
    await this.write(checkBatch(changes, undefined));
  }

  async advanceCheckpoint(projection: string, position: Position): Promise<boolean> {
    checkProjectionName(projection);
    checkPosition(position, "position");
    return this.moveCheckpoint(projection, position);
  }

  async readCheckpoint(projection: string): Promise<Position | undefined> {
    checkProjectionName(projection);
    const found = await mapErrors(() => this.checkpoints().findOne({ _id: projection }, { maxTimeMS: this.operationTimeoutMs }));
    return found === null ? undefined : checkPosition(found.position, "stored checkpoint");
  }

  async get(collection: string, id: string): Promise<StoredDocument | undefined> {
    checkCollection(collection);
    checkId(id);
    const found = await mapErrors(() => this.collection(collection).findOne({ _id: id }, { maxTimeMS: this.operationTimeoutMs }));
    return found === null ? undefined : toStored(collection, found);
  }

  async list(collection: string, options: ListOptions): Promise<DocumentPage> {
    const cursor = checkListOptions(collection, options);
    const pipeline = listPipeline(options, cursor);
    const found = await mapErrors(() =>
      this.collection(collection).aggregate<MongoStoredDocument>(pipeline, { maxTimeMS: this.operationTimeoutMs, allowDiskUse: true }).toArray(),
    );
    const documents = found.slice(0, options.limit).map((document) => toStored(collection, document));
    const last = documents[documents.length - 1];
    const next = found.length > options.limit && last !== undefined ? encodeCursor({ key: sortKey(last.body, options.orderBy), id: last.id }, options.orderBy) : undefined;
    return { documents, next };
  }

  async count(collection: string, where?: DocumentWhere): Promise<number> {
    checkCollection(collection);
    checkWhere(where);
    return mapErrors(() => this.collection(collection).countDocuments(whereFilter(where), { limit: DOCUMENT_LIMITS.countMax, maxTimeMS: this.operationTimeoutMs }));
  }

  async reset(projection: string, collections: readonly string[]): Promise<void> {
    checkProjectionName(projection);
    for (const [index, collection] of collections.entries()) checkCollection(collection, `collections[${index}]`);
    for (const collection of collections) {
      await mapErrors(() => this.collection(collection).drop()).catch((error: unknown) => {
        if (!(error instanceof MongoServerError && error.code === NAMESPACE_NOT_FOUND)) throw error;
      });
    }
    await mapErrors(() => this.checkpoints().deleteOne({ _id: projection }));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private collection(name: string): Collection<MongoStoredDocument> {
    return this.db.collection<MongoStoredDocument>(name);
  }

  private checkpoints(): Collection<MongoCheckpoint> {
    return this.db.collection<MongoCheckpoint>(MONGO_CHECKPOINTS_COLLECTION);
  }

  /** Each collection's changes in one ordered bulk write (its changes' order kept), collections in turn. */
  private async write(changes: readonly DocumentChange[]): Promise<void> {
    const byCollection = new Map<string, DocumentChange[]>();
    for (const change of changes) {
      const list = byCollection.get(change.collection) ?? [];
      list.push(change);
      byCollection.set(change.collection, list);
    }
    for (const [collection, list] of byCollection) await this.bulk(collection, list);
  }

  /** An ordered bulk write; an operation that lost an insert race to another writer is sent again, with what follows it. */
  private async bulk(collection: string, changes: readonly DocumentChange[]): Promise<void> {
    const operations = changes.map(updateOf);
    let from = 0;
    let retriesAtSameIndex = 0;
    while (from < operations.length) {
      try {
        await this.collection(collection).bulkWrite(operations.slice(from), { ordered: true });
        return;
      } catch (error) {
        const failed = failedWrite(error);
        if (failed === undefined) throw mapError(error);
        const change = changes[from + failed.index];
        if (failed.tooLarge) {
          const refused = new DocumentTooLargeError(collection, change?.id ?? "?", "the write would make it larger");
          refused.cause = error;
          throw refused;
        }
        if (!failed.duplicate) throw mapError(error);
        retriesAtSameIndex = failed.index === 0 ? retriesAtSameIndex + 1 : 0;
        assert.ok(retriesAtSameIndex <= DUPLICATE_RETRIES_MAX, `${collection}/${change?.id ?? "?"}: upsert keeps failing with a duplicate key`);
        from += failed.index;
      }
    }
  }

  private async moveCheckpoint(projection: string, position: Position): Promise<boolean> {
    try {
      const result = await this.checkpoints().updateOne({ _id: projection, position: { $lt: position } }, { $set: { position } }, { upsert: true });
      return result.modifiedCount + result.upsertedCount > 0;
    } catch (error) {
      // The guard did not match an existing checkpoint, so the upsert tried to insert its _id: it is already at or past `position`.
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false;
      throw mapError(error);
    }
  }
}

/**
 * One change as a pipeline update: stage 1 merges the change into the
 * document only past its guard (else leaves it as it is); stage 2 refuses a
 * result over the size limit. Values go in `$literal`, so a string such as
 * "$x" stays data. An upsert on `{ _id }` starts a new document as
 * `{ _id }` and runs the same pipeline on it.
 */
function updateOf(change: DocumentChange): AnyBulkWriteOperation<MongoStoredDocument> {
  const key = appliedKey(change);
  const isNew = { $eq: [{ $type: "$_applied" }, "missing"] };
  const passes = { $or: [isNew, { $lt: ["$_applied", key] }] };
  const parts: (Document | string)[] = ["$$$$ROOT"];
  if (change.setOnInsert !== undefined) parts.push({ $cond: { if: isNew, then: { $literal: change.setOnInsert }, else: { $literal: {} } } });
  if (change.set !== undefined) parts.push({ $literal: change.set });
  const pushed = pushExpressions(change);
  if (Object.keys(pushed).length > 0) parts.push(pushed);
  parts.push({ $literal: { _applied: key } });
  const pipeline: Document[] = [
    { $replaceWith: { $cond: { if: passes, then: { $mergeObjects: parts }, else: "$$ROOT" } } },
    { $replaceWith: { $cond: { if: { $lte: [{ $bsonSize: "$$ROOT" }, DOCUMENT_LIMITS.sizeBytesMax] }, then: "$$ROOT", else: { $literal: TOO_LARGE_MARKER } } } },
  ];
  const filter: Filter<MongoStoredDocument> = { _id: change.id };
  return { updateOne: { filter, update: pipeline, upsert: true } };
}

/** Per pushed field: the history appended to and cut to its last keepLast, and `<field>Dropped` plus what was cut (expressions on the old document). */
function pushExpressions(change: DocumentChange): Document {
  const expressions: Document = {};
  for (const [field, push] of Object.entries(change.push ?? {})) {
    const dropped = `${field}${DROPPED_SUFFIX}`;
    const all = { $concatArrays: [{ $ifNull: [`$${field}`, { $literal: [] }] }, { $literal: push.values }] };
    expressions[field] = { $slice: [all, -push.keepLast] };
    expressions[dropped] = { $add: [{ $ifNull: [`$${dropped}`, 0] }, { $max: [0, { $subtract: [{ $size: all }, push.keepLast] }] }] };
  }
  return expressions;
}

function listPipeline(options: ListOptions, cursor: ListCursor | undefined): Document[] {
  const { orderBy } = options;
  if (orderBy === undefined) {
    const match = cursor === undefined ? whereFilter(options.where) : { $and: [whereFilter(options.where), { _id: { $gt: cursor.id } }] };
    return [{ $match: match }, { $sort: { _id: 1 } }, { $limit: options.limit + 1 }];
  }
  // The sort key as the port defines it: the field's string, or null for anything else (sorted as absent).
  const key = { $cond: { if: { $eq: [{ $type: `$${orderBy.field}` }, "string"] }, then: `$${orderBy.field}`, else: null } };
  const direction = orderBy.direction === "asc" ? 1 : -1;
  const pipeline: Document[] = [{ $match: whereFilter(options.where) }, { $addFields: { _k: key } }];
  if (cursor !== undefined) pipeline.push({ $match: afterCursor(orderBy.direction, cursor) });
  pipeline.push({ $sort: { _k: direction, _id: direction } }, { $limit: options.limit + 1 }, { $unset: "_k" });
  return pipeline;
}

/** Documents strictly after the cursor; null (absent) keys sort lowest in MongoDB: first ascending, last descending. */
function afterCursor(direction: "asc" | "desc", cursor: ListCursor): Document {
  const { key, id } = cursor;
  if (key === null) return direction === "asc" ? { $or: [{ _k: null, _id: { $gt: id } }, { _k: { $ne: null } }] } : { _k: null, _id: { $lt: id } };
  return direction === "asc"
    ? { $or: [{ _k: { $gt: key } }, { _k: key, _id: { $gt: id } }] }
    : { $or: [{ _k: { $lt: key } }, { _k: key, _id: { $lt: id } }, { _k: null }] };
}

/** Equality on each field, never matching a field that holds an array (MongoDB would match an element; PostgreSQL does not). */
function whereFilter(where: DocumentWhere | undefined): Filter<MongoStoredDocument> {
  const filter: Filter<MongoStoredDocument> = {};
  for (const [field, value] of Object.entries(where ?? {})) filter[field] = { $eq: value, $not: { $type: "array" } };
  return filter;
}

function toStored(collection: string, document: MongoStoredDocument): StoredDocument {
  const { _id: id, _applied: applied, ...body } = document;
  return { collection, id, body: storedBody(body, `document ${collection}/${id}`), applied: parseAppliedKey(applied) };
}

/** The write an ordered bulk write stopped at, if it stopped at one: its index in the bulk, and why. */
function failedWrite(error: unknown): { readonly index: number; readonly duplicate: boolean; readonly tooLarge: boolean } | undefined {
  if (!(error instanceof MongoBulkWriteError)) return undefined;
  const [first] = ([] as WriteError[]).concat(error.writeErrors);
  if (first === undefined) return undefined;
  const tooLarge = first.code === REPLACEMENT_NOT_A_DOCUMENT || (first.errmsg ?? "").includes(TOO_LARGE_MARKER);
  return { index: first.index, duplicate: first.code === DUPLICATE_KEY, tooLarge };
}

async function mapErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw mapError(error);
  }
}

/** An outage becomes TransientDocumentError; anything else is returned as the driver threw it. */
function mapError(error: unknown): unknown {
  if (!isMongoTransient(error)) return error;
  return new TransientDocumentError(`document store unavailable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

function isMongoTransient(error: unknown): boolean {
  if (error instanceof TransientDocumentError) return true;
  // MongoNetworkError covers timeouts and a cleared pool (the driver's PoolClearedError is one).
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  if (!(error instanceof MongoError)) return false;
  if (TRANSIENT_LABELS.some((label) => error.hasErrorLabel(label))) return true;
  if (typeof error.code === "number" && TRANSIENT_CODES.has(error.code)) return true;
  // A write concern that timed out or met a stepdown arrives inside a bulk write error.
  const concern: unknown = error instanceof MongoServerError ? error.writeConcernError : undefined;
  const concernCode = typeof concern === "object" && concern !== null ? (concern as { code?: unknown }).code : undefined;
  return typeof concernCode === "number" && TRANSIENT_CODES.has(concernCode);
}
