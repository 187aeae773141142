// The document-sink port: what a document projection needs from a document
// store, and nothing more. Two adapters implement it (PostgreSQL JSONB,
// MongoDB) and one conformance suite proves both.
//
// Exactly-once without cross-document transactions: every document carries
// the (position, ordinal) of the last change applied to it, and a change
// applies only when its own (position, ordinal) is greater. A worker that
// crashes after writing documents but before moving its checkpoint replays
// the batch: the documents already written ignore it, the others take it.
// The checkpoint only ever moves forward. PostgreSQL additionally writes a
// batch and its checkpoint in one transaction (capabilities.atomicBatch).
//
// Everything a caller hands in is validated here, before any write, against
// what both stores can hold (no NUL, no lone surrogate, no `$` or `.` in
// keys, bounded sizes), so a batch that one adapter takes the other takes too.
import type { JsonValue } from "@trueup/contracts";
import { parsePosition } from "@trueup/event-store";
import type { Position } from "@trueup/event-store";

/** Collection names: lower-case identifiers, valid as a MongoDB collection and a SQL value alike. */
export const COLLECTION_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
/**
 * Top-level field names. A leading `_` is the sink's own (`_id`, `_applied`),
 * `$` and `.` mean something to MongoDB, and the suffix DROPPED_SUFFIX is the
 * sink's count of what a bounded history dropped.
 */
export const FIELD_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** `<field>Dropped` counts the values a push to `<field>` truncated away; no change may write it itself. */
export const DROPPED_SUFFIX = "Dropped";

export const DOCUMENT_LIMITS = {
  /** Characters in a document id (1..this). */
  idLengthMax: 200,
  /** Characters in a projection name (1..this): the checkpoint's key. */
  projectionNameLengthMax: 100,
  /**
   * A stored document, serialized, in UTF-8 bytes (PostgreSQL: its jsonb text;
   * MongoDB: its BSON). A write that would make a document larger is refused
   * with DocumentTooLargeError; so is a change whose own values are larger.
   */
  sizeBytesMax: 1_048_576,
  /** Changes in one applyBatch; above it DocumentBatchTooLargeError (the worker then halves its batch). */
  changesPerBatchMax: 50_000,
  /** Serialized bytes of all changes of one applyBatch; above it DocumentBatchTooLargeError. */
  batchBytesMax: 64 * 1_048_576,
  /** Fields one change names across set, setOnInsert and push. */
  fieldsPerChangeMax: 100,
  /** A history's bound: keepLast is in 1..this. */
  keepLastMax: 1_000,
  /** Values one push to one field appends. */
  pushValuesMax: 1_000,
  /** Changes one event may cause to one document: ordinal is in 0..this. */
  ordinalMax: 65_535,
  /** Nesting of objects and arrays inside a value (MongoDB stops at 100, with its own wrapping). */
  depthMax: 32,
  /** Documents one list() returns at most. */
  listLimitMax: 500,
  /** Equality conditions in one where. */
  whereFieldsMax: 8,
  /** count() stops counting here: a result of countMax means "at least". */
  countMax: 1_000_000,
  /** Characters of a list cursor. */
  cursorLengthMax: 2_048,
} as const;

/** A document's fields: a JSON object. Amounts travel as decimal strings, never numbers. */
export type DocumentBody = Readonly<Record<string, JsonValue>>;

/** Appends `values` to an array field and keeps only its last `keepLast` elements. */
export interface PushChange {
  readonly values: readonly JsonValue[];
  readonly keepLast: number;
}

/**
 * One change to one document, caused by the event at `position`. `ordinal`
 * is its index among the changes that event causes to that same document,
 * so several changes of one event to one document all apply, in order. It
 * must follow from the event alone, never from the batch it was planned in:
 * a replay may cut batches elsewhere, and the guard must see the same marks.
 * `set` overwrites top-level fields; `setOnInsert` writes fields only when
 * this change creates the document; `push` appends to array fields as a
 * bounded history and counts what it drops in `<field>Dropped`. A field
 * appears in at most one of the three.
 */
export interface DocumentChange {
  readonly collection: string;
  readonly id: string;
  readonly position: Position;
  readonly ordinal: number;
  readonly setOnInsert?: DocumentBody;
  readonly set?: DocumentBody;
  readonly push?: Readonly<Record<string, PushChange>>;
}

/** The last change applied to a document: changes at or below it are ignored. */
export interface AppliedMark {
  readonly position: Position;
  readonly ordinal: number;
}

export interface StoredDocument {
  readonly collection: string;
  readonly id: string;
  readonly body: DocumentBody;
  readonly applied: AppliedMark;
}

/** Equality on top-level fields holding a string or a boolean (a field holding an array never matches). */
export type DocumentWhere = Readonly<Record<string, string | boolean>>;

/**
 * Sorting is by one top-level field holding strings, compared by code point
 * (UTF-8 bytes) in both stores, then by id. A document whose field is absent,
 * null or not a string sorts as absent: first ascending, last descending.
 */
export interface DocumentOrder {
  readonly field: string;
  readonly direction: "asc" | "desc";
}

export interface ListOptions {
  readonly where?: DocumentWhere;
  /** Omitted: by id ascending. */
  readonly orderBy?: DocumentOrder;
  /** The `next` of the previous page; only valid with the same orderBy. */
  readonly after?: string;
  /** 1..DOCUMENT_LIMITS.listLimitMax. */
  readonly limit: number;
}

export interface DocumentPage {
  readonly documents: readonly StoredDocument[];
  /** Pass as `after` for the next page; undefined when this page is the last. */
  readonly next: string | undefined;
}

/** What an adapter can promise beyond the port; a caller asks, never `instanceof`. */
export interface DocumentSinkCapabilities {
  /**
   * true: applyBatch writes its documents and its checkpoint in one
   * transaction (all or nothing). false: documents one at a time, then the
   * checkpoint; a failure in between leaves some documents written, which
   * the position guard turns into no-ops when the batch is replayed.
   */
  readonly atomicBatch: boolean;
}

export interface DocumentSink {
  readonly capabilities: DocumentSinkCapabilities;
  /**
   * Applies `changes` in order (each only past its document's guard), then
   * moves `projection`'s checkpoint to `checkpoint` (never backwards). Every
   * change's position must be at or below `checkpoint`. Validates the whole
   * batch before writing anything. Throws InvalidDocumentInputError,
   * DocumentBatchTooLargeError, DocumentTooLargeError, TransientDocumentError
   * (an outage: retry the same batch), or the driver's error for anything else.
   */
  applyBatch(projection: string, changes: readonly DocumentChange[], checkpoint: Position): Promise<void>;
  /** The document half of applyBatch alone, never atomic with a checkpoint: the step a crash may follow. */
  writeDocuments(changes: readonly DocumentChange[]): Promise<void>;
  /** The checkpoint half of applyBatch alone; true when it moved (false: it was already at or past `position`). */
  advanceCheckpoint(projection: string, position: Position): Promise<boolean>;
  /** Undefined until the projection's first batch (or after a reset). */
  readCheckpoint(projection: string): Promise<Position | undefined>;
  get(collection: string, id: string): Promise<StoredDocument | undefined>;
  list(collection: string, options: ListOptions): Promise<DocumentPage>;
  /** Documents matching `where`, counted up to DOCUMENT_LIMITS.countMax. */
  count(collection: string, where?: DocumentWhere): Promise<number>;
  /** For a rebuild from position zero: deletes every document of `collections` and the projection's checkpoint. */
  reset(projection: string, collections: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Input neither store may hold, or that breaks the port's rules; `path` names the offending part. Nothing was written. */
export class InvalidDocumentInputError extends Error {
  override readonly name: string = "InvalidDocumentInputError";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

/** A batch over changesPerBatchMax or batchBytesMax: nothing was written; split it. */
export class DocumentBatchTooLargeError extends InvalidDocumentInputError {
  override readonly name = "DocumentBatchTooLargeError";
}

/** A change would make (or itself is) a document over DOCUMENT_LIMITS.sizeBytesMax. See capabilities.atomicBatch for what else of the batch was written. */
export class DocumentTooLargeError extends Error {
  override readonly name = "DocumentTooLargeError";
  readonly sizeBytesMax = DOCUMENT_LIMITS.sizeBytesMax;
  constructor(
    readonly collection: string,
    readonly id: string,
    detail: string,
  ) {
    super(`document ${collection}/${id} would exceed ${DOCUMENT_LIMITS.sizeBytesMax} bytes: ${detail}`);
  }
}

/** The store is away or asked for a retry (connection lost, failover, deadlock): the same call may be retried as is. */
export class TransientDocumentError extends Error {
  override readonly name = "TransientDocumentError";
}

// ---------------------------------------------------------------------------
// Validation, shared by both adapters: pure leaves, run before any I/O.

export function checkCollection(collection: string, path = "collection"): void {
  if (!COLLECTION_NAME_PATTERN.test(collection)) throw new InvalidDocumentInputError(path, `collection ${JSON.stringify(collection)} must match ${String(COLLECTION_NAME_PATTERN)}`);
}

export function checkId(id: string, path = "id"): void {
  if (id.length < 1 || id.length > DOCUMENT_LIMITS.idLengthMax) throw new InvalidDocumentInputError(path, `ids are 1..${DOCUMENT_LIMITS.idLengthMax} characters`);
  checkText(id, path);
}

export function checkProjectionName(projection: string): void {
  if (projection.length < 1 || projection.length > DOCUMENT_LIMITS.projectionNameLengthMax) {
    throw new InvalidDocumentInputError("projection", `projection names are 1..${DOCUMENT_LIMITS.projectionNameLengthMax} characters`);
  }
  checkText(projection, "projection");
}

export function checkPosition(position: string, path: string): Position {
  const parsed = parsePosition(position);
  if (parsed === undefined) throw new InvalidDocumentInputError(path, "a position is 32 lower-case hex digits");
  return parsed;
}

/** `path` names a field; user fields only (not the sink's `_…`, not a `…Dropped` counter). */
export function checkFieldName(field: string, path: string): void {
  if (!FIELD_NAME_PATTERN.test(field)) throw new InvalidDocumentInputError(path, `field names must match ${String(FIELD_NAME_PATTERN)}`);
  if (field.endsWith(DROPPED_SUFFIX)) throw new InvalidDocumentInputError(path, `fields ending in "${DROPPED_SUFFIX}" are the sink's counters of truncated histories`);
}

/**
 * Checks a batch as a whole before anything of it is written: each change,
 * the batch's bounds, each document's changes in increasing order, and
 * (given a checkpoint) every change at or below it. Returns the changes.
 */
export function checkBatch(changes: readonly DocumentChange[], checkpoint: Position | undefined): readonly DocumentChange[] {
  if (checkpoint !== undefined) checkPosition(checkpoint, "checkpoint");
  if (changes.length > DOCUMENT_LIMITS.changesPerBatchMax) {
    throw new DocumentBatchTooLargeError("changes", `${changes.length} changes; at most ${DOCUMENT_LIMITS.changesPerBatchMax} per batch`);
  }
  let bytes = 0;
  const lastByDocument = new Map<string, string>();
  for (const [index, change] of changes.entries()) {
    const path = `changes[${index}]`;
    bytes += checkChange(change, path);
    if (bytes > DOCUMENT_LIMITS.batchBytesMax) throw new DocumentBatchTooLargeError("changes", `over ${DOCUMENT_LIMITS.batchBytesMax} bytes in one batch`);
    if (checkpoint !== undefined && change.position > checkpoint) throw new InvalidDocumentInputError(`${path}.position`, `change at ${change.position} is past the batch's checkpoint ${checkpoint}`);
    // Within a batch each document's changes must strictly increase: an equal mark would be dropped silently by the guard.
    const key = documentKey(change.collection, change.id);
    const mark = appliedKey(change);
    const previous = lastByDocument.get(key);
    if (previous !== undefined && previous >= mark) {
      throw new InvalidDocumentInputError(path, `changes to ${change.collection}/${change.id} must come in increasing (position, ordinal) order`);
    }
    lastByDocument.set(key, mark);
  }
  return changes;
}

/**
 * The guard as one string: 32 hex digits of position, 4 of ordinal. Plain
 * string comparison orders it exactly as (position, ordinal), in every store.
 */
export function appliedKey(mark: { readonly position: Position; readonly ordinal: number }): string {
  return `${mark.position}${mark.ordinal.toString(16).padStart(4, "0")}`;
}

export function parseAppliedKey(key: string): AppliedMark {
  const position = parsePosition(key.slice(0, 32));
  const ordinal = Number.parseInt(key.slice(32), 16);
  if (position === undefined || key.length !== 36 || !Number.isInteger(ordinal)) throw new TypeError(`malformed applied mark ${JSON.stringify(key)}`);
  return { position, ordinal };
}

/** The body a change gives a document it creates: setOnInsert, set, and each push already truncated. */
export function insertBody(change: DocumentChange): DocumentBody {
  const body: Record<string, JsonValue> = { ...change.setOnInsert, ...change.set };
  for (const [field, push] of Object.entries(change.push ?? {})) {
    body[field] = push.values.slice(Math.max(0, push.values.length - push.keepLast));
    body[`${field}${DROPPED_SUFFIX}`] = Math.max(0, push.values.length - push.keepLast);
  }
  return body;
}

/** Validates one change; returns its serialized size in bytes. */
export function checkChange(change: DocumentChange, path: string): number {
  checkCollection(change.collection, `${path}.collection`);
  checkId(change.id, `${path}.id`);
  checkPosition(change.position, `${path}.position`);
  if (!Number.isInteger(change.ordinal) || change.ordinal < 0 || change.ordinal > DOCUMENT_LIMITS.ordinalMax) {
    throw new InvalidDocumentInputError(`${path}.ordinal`, `ordinals are integers in 0..${DOCUMENT_LIMITS.ordinalMax}`);
  }
  const fields = new Set<string>();
  const claim = (field: string, fieldPath: string): void => {
    checkFieldName(field, fieldPath);
    // MongoDB refuses one update naming a field twice; PostgreSQL would let the last win. Refuse it in both.
    if (fields.has(field)) throw new InvalidDocumentInputError(fieldPath, "a field appears in at most one of set, setOnInsert and push");
    fields.add(field);
    if (fields.size > DOCUMENT_LIMITS.fieldsPerChangeMax) throw new InvalidDocumentInputError(path, `at most ${DOCUMENT_LIMITS.fieldsPerChangeMax} fields per change`);
  };
  let bytes = 0;
  for (const part of ["set", "setOnInsert"] as const) {
    const body = change[part];
    if (body === undefined) continue;
    checkPlainObject(body, `${path}.${part}`);
    for (const [field, value] of Object.entries(body)) {
      claim(field, `${path}.${part}.${field}`);
      bytes += jsonBytes(value, `${path}.${part}.${field}`, 1);
    }
  }
  if (change.push !== undefined) {
    checkPlainObject(change.push, `${path}.push`);
    for (const [field, push] of Object.entries(change.push)) {
      const pushPath = `${path}.push.${field}`;
      claim(field, pushPath);
      if (!Number.isInteger(push.keepLast) || push.keepLast < 1 || push.keepLast > DOCUMENT_LIMITS.keepLastMax) {
        throw new InvalidDocumentInputError(`${pushPath}.keepLast`, `keepLast is an integer in 1..${DOCUMENT_LIMITS.keepLastMax}`);
      }
      if (!Array.isArray(push.values) || push.values.length > DOCUMENT_LIMITS.pushValuesMax) {
        throw new InvalidDocumentInputError(`${pushPath}.values`, `values is an array of at most ${DOCUMENT_LIMITS.pushValuesMax}`);
      }
      bytes += jsonBytes(push.values, `${pushPath}.values`, 1);
    }
  }
  if (bytes > DOCUMENT_LIMITS.sizeBytesMax) throw new DocumentTooLargeError(change.collection, change.id, `the change alone carries ${bytes} bytes`);
  return bytes;
}

export function checkWhere(where: DocumentWhere | undefined): void {
  if (where === undefined) return;
  checkPlainObject(where, "where");
  const entries = Object.entries(where);
  if (entries.length > DOCUMENT_LIMITS.whereFieldsMax) throw new InvalidDocumentInputError("where", `at most ${DOCUMENT_LIMITS.whereFieldsMax} conditions`);
  for (const [field, value] of entries) {
    checkFieldName(field, `where.${field}`);
    if (typeof value !== "string" && typeof value !== "boolean") throw new InvalidDocumentInputError(`where.${field}`, "conditions compare with a string or a boolean");
    if (typeof value === "string") checkText(value, `where.${field}`);
  }
}

/** What a page's cursor holds: the last document's sort key and id, and the order it was made for. */
export interface ListCursor {
  readonly key: string | null;
  readonly id: string;
}

export function checkListOptions(collection: string, options: ListOptions): ListCursor | undefined {
  checkCollection(collection);
  checkWhere(options.where);
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > DOCUMENT_LIMITS.listLimitMax) {
    throw new InvalidDocumentInputError("limit", `limit is an integer in 1..${DOCUMENT_LIMITS.listLimitMax}`);
  }
  if (options.orderBy !== undefined) checkFieldName(options.orderBy.field, "orderBy.field");
  return options.after === undefined ? undefined : decodeCursor(options.after, options.orderBy);
}

/** The sort key of a body under `orderBy`: its string, or null (absent, null, not a string; or no orderBy). */
export function sortKey(body: DocumentBody, orderBy: DocumentOrder | undefined): string | null {
  if (orderBy === undefined) return null;
  const value = body[orderBy.field];
  return typeof value === "string" ? value : null;
}

/** An opaque cursor: base64url of JSON naming the order it belongs to, so a cursor is never applied to another order. */
export function encodeCursor(cursor: ListCursor, orderBy: DocumentOrder | undefined): string {
  return Buffer.from(JSON.stringify({ o: orderLabel(orderBy), k: cursor.key, i: cursor.id }), "utf8").toString("base64url");
}

function decodeCursor(text: string, orderBy: DocumentOrder | undefined): ListCursor {
  const refuse = (): never => {
    throw new InvalidDocumentInputError("after", "not a cursor of this list's order");
  };
  if (text.length > DOCUMENT_LIMITS.cursorLengthMax || !/^[A-Za-z0-9_-]+$/.test(text)) return refuse();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    return refuse();
  }
  if (typeof decoded !== "object" || decoded === null) return refuse();
  const { o, k, i } = decoded as { o?: unknown; k?: unknown; i?: unknown };
  if (o !== orderLabel(orderBy) || typeof i !== "string" || !(k === null || typeof k === "string")) return refuse();
  checkId(i, "after");
  if (k !== null) checkText(k, "after");
  return { key: k, id: i };
}

function orderLabel(orderBy: DocumentOrder | undefined): string {
  return orderBy === undefined ? "id" : `${orderBy.field}:${orderBy.direction}`;
}

/**
 * A stored body read back from a store, checked to be JSON (a document some
 * other writer put there with a date or an ObjectId is a bug, found here).
 */
export function storedBody(value: unknown, what: string): DocumentBody {
  if (!isJson(value, 0) || typeof value !== "object" || value === null || Array.isArray(value)) throw new TypeError(`${what} is not a JSON object`);
  return value;
}

function isJson(value: unknown, depth: number): value is JsonValue {
  if (depth > DOCUMENT_LIMITS.depthMax + 1) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  if (typeof value !== "object") return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  return Object.values(value).every((item) => isJson(item, depth + 1));
}

export function documentKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}

// Lone surrogates: PostgreSQL refuses them in jsonb, BSON would store replacement characters.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkText(text: string, path: string): void {
  if (text.includes("\u0000")) throw new InvalidDocumentInputError(path, "text may not contain U+0000 (PostgreSQL cannot store it)");
  if (LONE_SURROGATE.test(text)) throw new InvalidDocumentInputError(path, "text may not contain an unpaired surrogate (not UTF-8)");
}

function checkPlainObject(value: unknown, path: string): void {
  const prototype: unknown = typeof value === "object" && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (Array.isArray(value) || (prototype !== Object.prototype && prototype !== null)) throw new InvalidDocumentInputError(path, "must be a plain object");
}

/**
 * Checks that `value` is JSON every store holds, and returns its UTF-8 size
 * as JSON text. Walks the value once; depth bounded, so no stack overflow.
 * The path of what is wrong is built only when something is: the walk keeps
 * the keys it is under in `trail` (a case file's change has hundreds of
 * values, and a run writes 100,000 changes).
 */
function jsonBytes(value: unknown, path: string, depth: number, trail: (string | number)[] = []): number {
  if (depth > DOCUMENT_LIMITS.depthMax) throw new InvalidDocumentInputError(pathAt(path, trail), `nested deeper than ${DOCUMENT_LIMITS.depthMax}`);
  if (value === null) return 4;
  switch (typeof value) {
    case "string":
      return textBytes(value, path, trail);
    case "boolean":
      return value ? 4 : 5;
    case "number":
      if (!Number.isFinite(value)) throw new InvalidDocumentInputError(pathAt(path, trail), "numbers must be finite");
      return String(value).length;
    case "object":
      break;
    default:
      throw new InvalidDocumentInputError(pathAt(path, trail), `a ${typeof value} is not JSON`);
  }
  if (Array.isArray(value)) {
    let bytes = 2;
    const items = value as unknown[];
    for (let index = 0; index < items.length; index++) {
      trail.push(index);
      bytes += 1 + jsonBytes(items[index], path, depth + 1, trail);
      trail.pop();
    }
    return bytes;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) throw new InvalidDocumentInputError(pathAt(path, trail), "must be a plain object");
  let bytes = 2;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const key of keys) {
    trail.push(key);
    if (key.length === 0) throw new InvalidDocumentInputError(pathAt(path, trail), "keys may not be empty (MongoDB cannot address them)");
    // MongoDB reads a `$` key as an operator and a `.` as a path; neither is data there.
    if (key.startsWith("$") || key.includes(".")) throw new InvalidDocumentInputError(pathAt(path, trail), 'keys may not start with "$" or contain "."');
    bytes += textBytes(key, path, trail) + 2 + jsonBytes(record[key], path, depth + 1, trail);
    trail.pop();
  }
  return bytes;
}

/** Where `trail` leads from `path`, as a refusal names it (`a.b[2].c`): built only for a refusal. */
function pathAt(path: string, trail: readonly (string | number)[]): string {
  return path + trail.map((key) => (typeof key === "number" ? `[${key}]` : `.${key}`)).join("");
}

/** Printable ASCII with nothing JSON escapes: its JSON text is itself in quotes (most keys and values). */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string's size as JSON text, checked to be text every store holds (checkText). */
function textBytes(text: string, path: string, trail: readonly (string | number)[]): number {
  if (PLAIN_ASCII.test(text)) return text.length + 2;
  checkText(text, pathAt(path, trail));
  return Buffer.byteLength(JSON.stringify(text), "utf8");
}
