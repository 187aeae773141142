// The document sink on PostgreSQL: documents as JSONB rows, a batch and its
// checkpoint in one transaction (capabilities.atomicBatch).
//
// One table `documents(collection, id, body, applied_position,
// applied_ordinal)` per sink schema, not a table per collection: a projection
// names its collections in its changes, so a table per collection would mean
// DDL inside the batch's transaction (an ACCESS EXCLUSIVE lock, and two
// writers racing to create the same table); one table has one upsert, one
// size check and one index to get right, and every read is by the primary
// key's prefix (collection, id). The checkpoints sit in the same schema, so a
// batch's documents and its checkpoint commit together, and a rebuild into a
// fresh schema carries both.
//
// Why a batch is exactly-once here: the transaction commits documents and
// checkpoint together or neither, and each row's guard (applied_position,
// applied_ordinal) lets a change through only once even if the same batch is
// applied twice (a replay, or a second writer). ON CONFLICT DO UPDATE … WHERE
// re-reads the newest committed row under its lock in READ COMMITTED, so two
// concurrent writers of the same change cannot both pass the guard. Changes
// are applied sorted by (collection, id, position, ordinal): every writer
// locks rows in the same order, so two writers never deadlock each other.
import pg from "pg";
import type { Position } from "@trueup/event-store";
import { isTransient } from "../postgres/retry.ts";
import { inTransaction } from "../postgres/transaction.ts";
import {
  DOCUMENT_LIMITS,
  DROPPED_SUFFIX,
  DocumentTooLargeError,
  TransientDocumentError,
  checkBatch,
  checkCollection,
  checkId,
  checkListOptions,
  checkPosition,
  checkProjectionName,
  checkWhere,
  encodeCursor,
  insertBody,
  sortKey,
  storedBody,
} from "./port.ts";
import type { DocumentChange, DocumentPage, DocumentSink, DocumentSinkCapabilities, DocumentWhere, ListCursor, ListOptions, StoredDocument } from "./port.ts";

/** Schema names: lower-case identifiers, as the PostgreSQL projections' (see checkProjection). */
export const DOCUMENT_SCHEMA_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
/** One call of the apply function carries at most this much JSON (a batch is several calls in one transaction). */
export const APPLY_CHUNK_BYTES_MAX = 8 * 1_048_576;
/** …and at most this many changes, so one call's plpgsql loop stays short. */
export const APPLY_CHUNK_CHANGES_MAX = 2_000;
/** Custom SQLSTATE the apply function raises for a document over the size limit. */
const TOO_LARGE_SQLSTATE = "TD413";

export interface PostgresDocumentSinkOptions {
  /** The caller's pool: the sink borrows it and close() leaves it open. */
  readonly pool: pg.Pool;
  /** Schema holding the documents and checkpoints, created when missing, e.g. "rm_case_files". */
  readonly schemaName: string;
}

interface DocumentRow {
  id: string;
  body: unknown;
  applied_position: string;
  applied_ordinal: number;
}

export class PostgresDocumentSink implements DocumentSink {
  readonly capabilities: DocumentSinkCapabilities = { atomicBatch: true };
  private readonly pool: pg.Pool;
  private readonly documents: string;
  private readonly checkpoints: string;
  private readonly applyFunction: string;

  private constructor(options: PostgresDocumentSinkOptions) {
    this.pool = options.pool;
    const schema = pg.escapeIdentifier(options.schemaName);
    this.documents = `${schema}.documents`;
    this.checkpoints = `${schema}.checkpoints`;
    this.applyFunction = `${schema}.apply_document_changes`;
  }

  /** Creates the schema's tables and functions if missing (concurrent opens wait for each other), then returns the sink. */
  static async open(options: PostgresDocumentSinkOptions): Promise<PostgresDocumentSink> {
    if (!DOCUMENT_SCHEMA_NAME_PATTERN.test(options.schemaName)) throw new RangeError(`document schema name must match ${String(DOCUMENT_SCHEMA_NAME_PATTERN)}`);
    await mapErrors(() =>
      inTransaction(options.pool, async (tx) => {
        await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`trueup_documents:${options.schemaName}`]);
        for (const statement of documentDdl(options.schemaName)) await tx.query(statement);
      }),
    );
    return new PostgresDocumentSink(options);
  }

  async applyBatch(projection: string, changes: readonly DocumentChange[], checkpoint: Position): Promise<void> {
    checkProjectionName(projection);
    const chunks = applyChunks(checkBatch(changes, checkpoint));
    await mapErrors(() =>
      inTransaction(this.pool, async (tx) => {
        for (const chunk of chunks) await tx.query(`SELECT ${this.applyFunction}($1::jsonb, $2)`, [chunk, DOCUMENT_LIMITS.sizeBytesMax]);
        await this.moveCheckpoint(tx, projection, checkpoint);
      }),
    );
  }

  async writeDocuments(changes: readonly DocumentChange[]): Promise<void> {
    const chunks = applyChunks(checkBatch(changes, undefined));
    if (chunks.length === 0) return;
    await mapErrors(() =>
      inTransaction(this.pool, async (tx) => {
        for (const chunk of chunks) await tx.query(`SELECT ${this.applyFunction}($1::jsonb, $2)`, [chunk, DOCUMENT_LIMITS.sizeBytesMax]);
      }),
    );
  }

  async advanceCheckpoint(projection: string, position: Position): Promise<boolean> {
    checkProjectionName(projection);
    checkPosition(position, "position");
    return mapErrors(() => this.moveCheckpoint(this.pool, projection, position));
  }

  async readCheckpoint(projection: string): Promise<Position | undefined> {
    checkProjectionName(projection);
    const { rows } = await mapErrors(() => this.pool.query<{ position: string }>(`SELECT position FROM ${this.checkpoints} WHERE projection = $1`, [projection]));
    const row = rows[0];
    return row === undefined ? undefined : checkPosition(row.position, "stored checkpoint");
  }

  async get(collection: string, id: string): Promise<StoredDocument | undefined> {
    checkCollection(collection);
    checkId(id);
    const { rows } = await mapErrors(() =>
      this.pool.query<DocumentRow>(`SELECT id, body, applied_position, applied_ordinal FROM ${this.documents} WHERE collection = $1 AND id = $2`, [collection, id]),
    );
    const row = rows[0];
    return row === undefined ? undefined : toStored(collection, row);
  }

  async list(collection: string, options: ListOptions): Promise<DocumentPage> {
    const cursor = checkListOptions(collection, options);
    const query = listQuery(this.documents, collection, options, cursor);
    const { rows } = await mapErrors(() => this.pool.query<DocumentRow>(query.text, query.values));
    const documents = rows.slice(0, options.limit).map((row) => toStored(collection, row));
    const last = documents[documents.length - 1];
    const next = rows.length > options.limit && last !== undefined ? encodeCursor({ key: sortKey(last.body, options.orderBy), id: last.id }, options.orderBy) : undefined;
    return { documents, next };
  }

  async count(collection: string, where?: DocumentWhere): Promise<number> {
    checkCollection(collection);
    checkWhere(where);
    const values: unknown[] = [collection, DOCUMENT_LIMITS.countMax];
    const condition = whereCondition(where, values);
    const { rows } = await mapErrors(() =>
      this.pool.query<{ n: number }>(`SELECT count(*)::integer AS n FROM (SELECT 1 FROM ${this.documents} WHERE collection = $1${condition} LIMIT $2) t`, values),
    );
    return rows[0]?.n ?? 0;
  }

  async reset(projection: string, collections: readonly string[]): Promise<void> {
    checkProjectionName(projection);
    for (const [index, collection] of collections.entries()) checkCollection(collection, `collections[${index}]`);
    await mapErrors(() =>
      inTransaction(this.pool, async (tx) => {
        await tx.query(`DELETE FROM ${this.documents} WHERE collection = ANY($1::text[])`, [collections]);
        await tx.query(`DELETE FROM ${this.checkpoints} WHERE projection = $1`, [projection]);
      }),
    );
  }

  /** The pool is the caller's: nothing to release. */
  async close(): Promise<void> {
    // Nothing of our own is open.
  }

  private async moveCheckpoint(db: Pick<pg.Pool | pg.PoolClient, "query">, projection: string, position: Position): Promise<boolean> {
    const result = await db.query(
      `INSERT INTO ${this.checkpoints} AS c (projection, position, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (projection) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at
       WHERE c.position < EXCLUDED.position`,
      [projection, position],
    );
    return result.rowCount === 1;
  }
}

/**
 * The schema: idempotent, run under the open() lock (CREATE OR REPLACE
 * cannot change a function's signature: a change of one needs a DROP
 * FUNCTION here first). The apply function
 * loops over a chunk of changes server-side (one round trip per chunk, not
 * per change) and is the only writer of `documents`, so its size check after
 * each write is the size limit; a CHECK constraint would serialize every
 * body a second time.
 */
function documentDdl(schemaName: string): string[] {
  const schema = pg.escapeIdentifier(schemaName);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    // COLLATE "C": ids and sort keys compare by UTF-8 bytes (= code points), as MongoDB compares strings.
    `CREATE TABLE IF NOT EXISTS ${schema}.documents (
       collection text COLLATE "C" NOT NULL,
       id text COLLATE "C" NOT NULL,
       body jsonb NOT NULL,
       applied_position text COLLATE "C" NOT NULL,
       applied_ordinal integer NOT NULL,
       PRIMARY KEY (collection, id))`,
    // Serves list/count's equality filters (body @> where).
    `CREATE INDEX IF NOT EXISTS documents_body ON ${schema}.documents USING gin (body jsonb_path_ops)`,
    `CREATE TABLE IF NOT EXISTS ${schema}.checkpoints (
       projection text PRIMARY KEY,
       position text COLLATE "C" NOT NULL,
       updated_at timestamptz NOT NULL)`,
    // The push of one change onto an existing body: each field's history appended and cut to its last keepLast,
    // and <field>Dropped counting what was cut. Absent or null is an empty history (as MongoDB's $ifNull);
    // anything else but an array is refused, as MongoDB's $concatArrays refuses it.
    `CREATE OR REPLACE FUNCTION ${schema}.document_push(p_body jsonb, p_push jsonb) RETURNS jsonb
     LANGUAGE plpgsql IMMUTABLE AS $$
     DECLARE
       v_field text; v_push jsonb; v_old jsonb; v_all jsonb; v_over integer; v_result jsonb := '{}';
     BEGIN
       FOR v_field, v_push IN SELECT key, value FROM jsonb_each(p_push) LOOP
         v_old := p_body -> v_field;
         IF v_old IS NULL OR v_old = 'null'::jsonb THEN v_old := '[]'; END IF;
         IF jsonb_typeof(v_old) <> 'array' THEN
           RAISE EXCEPTION 'cannot push onto field % which holds a %', v_field, jsonb_typeof(v_old) USING ERRCODE = '22023';
         END IF;
         v_all := v_old || (v_push -> 'values');
         v_over := greatest(jsonb_array_length(v_all) - (v_push ->> 'keepLast')::integer, 0);
         v_result := v_result || jsonb_build_object(
           v_field, coalesce((SELECT jsonb_agg(e.value ORDER BY e.n) FROM jsonb_array_elements(v_all) WITH ORDINALITY AS e(value, n) WHERE e.n > v_over), '[]'),
           v_field || '${DROPPED_SUFFIX}', coalesce((p_body -> (v_field || '${DROPPED_SUFFIX}'))::numeric, 0) + v_over);
       END LOOP;
       RETURN v_result;
     END $$`,
    // Each change: insert the document with its insert body, or update it past its guard only. RETURNING gives
    // the written body's size, or nothing when the guard held the change back.
    `CREATE OR REPLACE FUNCTION ${schema}.apply_document_changes(p_changes jsonb, p_size_max integer) RETURNS void
     LANGUAGE plpgsql AS $$
     DECLARE
       c jsonb; v_size integer;
     BEGIN
       FOR c IN SELECT e.value FROM jsonb_array_elements(p_changes) WITH ORDINALITY AS e(value, n) ORDER BY e.n LOOP
         INSERT INTO ${schema}.documents AS d (collection, id, body, applied_position, applied_ordinal)
         VALUES (c ->> 'collection', c ->> 'id', c -> 'insert', c ->> 'position', (c ->> 'ordinal')::integer)
         ON CONFLICT (collection, id) DO UPDATE
           SET body = d.body || (c -> 'set') || ${schema}.document_push(d.body, c -> 'push'),
               applied_position = EXCLUDED.applied_position,
               applied_ordinal = EXCLUDED.applied_ordinal
           WHERE (d.applied_position, d.applied_ordinal) < (EXCLUDED.applied_position, EXCLUDED.applied_ordinal)
         RETURNING octet_length(d.body::text) INTO v_size;
         IF v_size > p_size_max THEN
           RAISE EXCEPTION 'document %/% would be % bytes', c ->> 'collection', c ->> 'id', v_size
             USING ERRCODE = '${TOO_LARGE_SQLSTATE}',
                   DETAIL = jsonb_build_object('collection', c ->> 'collection', 'id', c ->> 'id', 'sizeBytes', v_size)::text;
         END IF;
       END LOOP;
     END $$`,
  ];
}

/**
 * The changes in lock order, as JSON arrays for the apply function, each
 * within APPLY_CHUNK_BYTES_MAX / APPLY_CHUNK_CHANGES_MAX (a single change may
 * exceed the bytes alone: it then travels alone). Sorting keeps each
 * document's own order: its changes strictly increase in (position, ordinal).
 */
function applyChunks(changes: readonly DocumentChange[]): string[] {
  const ordered = [...changes].sort(lockOrder);
  const chunks: string[] = [];
  let parts: string[] = [];
  let bytes = 0;
  for (const change of ordered) {
    const part = JSON.stringify({
      collection: change.collection,
      id: change.id,
      position: change.position,
      ordinal: change.ordinal,
      insert: insertBody(change),
      set: change.set ?? {},
      push: change.push ?? {},
    });
    const partBytes = Buffer.byteLength(part, "utf8");
    if (parts.length > 0 && (bytes + partBytes > APPLY_CHUNK_BYTES_MAX || parts.length >= APPLY_CHUNK_CHANGES_MAX)) {
      chunks.push(`[${parts.join(",")}]`);
      parts = [];
      bytes = 0;
    }
    parts.push(part);
    bytes += partBytes + 1;
  }
  if (parts.length > 0) chunks.push(`[${parts.join(",")}]`);
  return chunks;
}

function lockOrder(a: DocumentChange, b: DocumentChange): number {
  if (a.collection !== b.collection) return a.collection < b.collection ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  if (a.position !== b.position) return a.position < b.position ? -1 : 1;
  return a.ordinal - b.ordinal;
}

function listQuery(table: string, collection: string, options: ListOptions, cursor: ListCursor | undefined): { text: string; values: unknown[] } {
  const values: unknown[] = [collection, options.limit + 1];
  const param = (value: unknown): string => `$${values.push(value)}`;
  let conditions = whereCondition(options.where, values);
  const { orderBy } = options;
  if (orderBy === undefined) {
    if (cursor !== undefined) conditions += ` AND id > ${param(cursor.id)}`;
    return { text: `SELECT id, body, applied_position, applied_ordinal FROM ${table} WHERE collection = $1${conditions} ORDER BY id LIMIT $2`, values };
  }
  // A field that is absent, null or not a string sorts as absent (SQL NULL), as the port says.
  const field = param(orderBy.field);
  const key = `(CASE WHEN jsonb_typeof(body -> ${field}::text) = 'string' THEN body ->> ${field}::text END) COLLATE "C"`;
  if (cursor !== undefined) conditions += ` AND ${afterCursor(key, orderBy.direction, cursor, param)}`;
  const order = orderBy.direction === "asc" ? `${key} ASC NULLS FIRST, id ASC` : `${key} DESC NULLS LAST, id DESC`;
  return { text: `SELECT id, body, applied_position, applied_ordinal FROM ${table} WHERE collection = $1${conditions} ORDER BY ${order} LIMIT $2`, values };
}

/** Rows strictly after the cursor in the list's order: absent keys come first ascending, last descending. */
function afterCursor(key: string, direction: "asc" | "desc", cursor: ListCursor, param: (value: unknown) => string): string {
  const id = param(cursor.id);
  if (cursor.key === null) return direction === "asc" ? `((${key} IS NULL AND id > ${id}) OR ${key} IS NOT NULL)` : `(${key} IS NULL AND id < ${id})`;
  const value = `${param(cursor.key)}::text`;
  return direction === "asc"
    ? `(${key} > ${value} OR (${key} = ${value} AND id > ${id}))`
    : `(${key} < ${value} OR (${key} = ${value} AND id < ${id}) OR ${key} IS NULL)`;
}

/**
 * Containment per field: `body @> {"f": v}` uses the GIN index, and an array
 * under `f` does not contain a scalar below the top level, so only a field
 * equal to the value matches.
 */
function whereCondition(where: DocumentWhere | undefined, values: unknown[]): string {
  if (where === undefined || Object.keys(where).length === 0) return "";
  return ` AND body @> $${values.push(JSON.stringify(where))}::jsonb`;
}

function toStored(collection: string, row: DocumentRow): StoredDocument {
  return {
    collection,
    id: row.id,
    body: storedBody(row.body, `document ${collection}/${row.id}`),
    applied: { position: checkPosition(row.applied_position, "stored guard"), ordinal: row.applied_ordinal },
  };
}

/** The port's errors: a document over the limit, an outage (transient); anything else as the driver threw it. */
async function mapErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code === TOO_LARGE_SQLSTATE) throw tooLarge(error);
    if (isTransient(error)) throw new TransientDocumentError(`document store unavailable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    throw error;
  }
}

function tooLarge(error: pg.DatabaseError): DocumentTooLargeError {
  const detail: unknown = JSON.parse(error.detail ?? "{}");
  const { collection, id, sizeBytes } = typeof detail === "object" && detail !== null ? (detail as { collection?: unknown; id?: unknown; sizeBytes?: unknown }) : {};
  const refused = new DocumentTooLargeError(String(collection), String(id), `the write would make it ${String(sizeBytes)} bytes`);
  refused.cause = error;
  return refused;
}
