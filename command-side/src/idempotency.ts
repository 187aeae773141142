// Idempotency keys for commands, kept in PostgreSQL next to the read models.
// A key remembers a hash of its request and, once answered, the answer:
// - same key, same request, answered → the original answer again (a replay);
// - same key, different request → IDEMPOTENCY_CONFLICT;
// - same key, never answered (a crash or a 503 in between) → run again with
//   the first attempt's timestamp, actor and correlation id, so the events
//   come out identical and the event store recognises them by id instead of
//   writing them twice.
// Two ways to keep a key:
// - claim first (begin → run → complete): any event store, three writes;
// - with a PostgreSQL event store, look the key up (a read), run the command,
//   and store its answer in the same transaction as its events (receipts):
//   one write. A key that turns up meanwhile fails that transaction, and the
//   command falls back to claiming.
// Which writes may use asynchronous commit (synchronous_commit=off: a crash
// may lose the last few hundred ms of them), decided per write:
// - a claim (begin): yes. It is written before the command's events, and WAL
//   is flushed in order, so once the events are durable the claim is too; a
//   lost claim had no events after it, and a retry simply claims again.
// - the answer of a success (complete, 2xx): yes. Its events are durable;
//   lost, the key reads "never answered", the retry finds the command's own
//   events in its stream (see StreamWriter) and answers as the first did.
// - the answer of a refusal (complete or record, 4xx): NO. A refusal writes
//   no event that could bring it back: lost, the retry would run the command
//   again, and might now succeed (a period reopened) after the client was
//   told it was refused. Refusals go through `durablePool`.
// - a receipt: in the events' own transaction, as durable as they are.
import { createHash } from "node:crypto";
import type pg from "pg";
import { migrate } from "@trueup/event-store";
import { MicroBatcher } from "./micro-batcher.ts";
import type { MicroBatcherLimits } from "./micro-batcher.ts";
import type { CompanionWrite, Migration, TransactionalAppend } from "@trueup/event-store";
import type { AtomicAppender } from "./stream-writer.ts";
import type { Origin, Receipt } from "./receipt.ts";

export type { Origin, Receipt } from "./receipt.ts";

export const IDEMPOTENCY_KEY_LENGTH_MAX = 200;
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "idempotency keys",
    sql: `CREATE TABLE cmd_idempotency (
            scope         text        NOT NULL,
            key           text        NOT NULL,
            request_hash  text        NOT NULL,
            first_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            status_code   integer,
            response      jsonb,
            PRIMARY KEY (scope, key)
          )`,
  },
  {
    // Who asked, kept with the claim: a retry must produce the first attempt's
    // events exactly (their metadata included) to be recognised as a retry.
    version: 2,
    name: "idempotency keys remember the first attempt's actor and correlation id",
    sql: `ALTER TABLE cmd_idempotency ADD COLUMN actor text, ADD COLUMN correlation_id text`,
  },
];

export type Lookup = Exclude<Begin, { kind: "new" }> | { readonly kind: "absent" };

export type Begin =
  | { readonly kind: "new" | "retry"; readonly firstSeenAt: Date; readonly origin: Origin }
  | { readonly kind: "replay"; readonly statusCode: number; readonly response: unknown }
  | { readonly kind: "conflict" };

interface Row {
  request_hash: string;
  first_seen_at: Date;
  actor: string | null;
  correlation_id: string | null;
  status_code: number | null;
  response: unknown;
  inserted: boolean;
}

export function requestHash(parts: { method: string; route: string; body: unknown }): string {
  return createHash("sha256").update(`${parts.method} ${parts.route}\n${canonicalJson(parts.body)}`).digest("hex");
}

/** JSON with object keys sorted, so key order does not change the hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  if (typeof value === "bigint") return `"${value.toString()}n"`;
  if (value === undefined) return "null";
  return JSON.stringify(value);
}

/** Limits of the batched key writes: concurrent commands share one round trip. */
export const IDEMPOTENCY_BATCH_LIMITS = { batchSizeMax: 500, inFlightMax: 2, queueLengthMax: 20_000 } as const;

// Joins with the key table go unnamed: planned at each call against the table's
// current size. A named statement's generic plan, made while the table was
// small, kept a sequential scan of it (1.6 ms a lookup at 40,000 keys).
const LOOKUP_SQL = `SELECT c.scope, c.key, c.request_hash, c.first_seen_at, c.actor, c.correlation_id, c.status_code, c.response, false AS inserted
  FROM cmd_idempotency c JOIN unnest($1::text[], $2::text[]) AS k(scope, key) ON c.scope = k.scope AND c.key = k.key`;

interface BeginItem {
  readonly scope: string;
  readonly key: string;
  readonly hash: string;
  readonly origin: Origin;
}

interface LookupItem {
  readonly scope: string;
  readonly key: string;
  readonly hash: string;
}

interface CompleteItem {
  readonly scope: string;
  readonly key: string;
  readonly statusCode: number;
  readonly response: unknown;
}

export class IdempotencyStore {
  private readonly begins: MicroBatcher<BeginItem, Begin>;
  private readonly completes: MicroBatcher<CompleteItem, Answer & { readonly won: boolean }>;
  private readonly lookups: MicroBatcher<LookupItem, Lookup>;
  private readonly records: MicroBatcher<Receipt, boolean>;
  /** Refusals' completions: on durablePool (see the top of this file). */
  private readonly refusals: MicroBatcher<CompleteItem, Answer & { readonly won: boolean }>;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly durablePool: pg.Pool,
    limits: MicroBatcherLimits,
  ) {
    this.begins = new MicroBatcher((items) => this.beginMany(items), limits);
    this.completes = new MicroBatcher((items) => this.completeMany(this.pool, items), limits);
    this.refusals = new MicroBatcher((items) => this.completeMany(this.durablePool, items), limits);
    this.lookups = new MicroBatcher((items) => this.lookupMany(items), limits);
    this.records = new MicroBatcher((items) => this.recordMany(items), limits);
  }

  /**
   * `pool` may have synchronous_commit off; `durablePool` (default: `pool`)
   * must not: refusals are written there. `limits`: IDEMPOTENCY_BATCH_LIMITS
   * unless given (tests reach a limit with a small one).
   */
  static async open(pool: pg.Pool, options: { durablePool?: pg.Pool | undefined; limits?: MicroBatcherLimits | undefined } = {}): Promise<IdempotencyStore> {
    await migrate(pool, MIGRATIONS, "cmd_migrations");
    return new IdempotencyStore(pool, options.durablePool ?? pool, options.limits ?? IDEMPOTENCY_BATCH_LIMITS);
  }

  begin(scope: string, key: string, hash: string, origin: Origin): Promise<Begin> {
    return this.begins.submit({ scope, key, hash, origin });
  }

  /** Stores a claimed key's answer unless it has one; returns the answer that stands, and whether it is this one (`won`). */
  complete(scope: string, key: string, statusCode: number, response: unknown): Promise<Answer & { readonly won: boolean }> {
    return (statusCode >= 400 ? this.refusals : this.completes).submit({ scope, key, statusCode, response });
  }

  /** What is known of a key, without claiming it. */
  lookup(scope: string, key: string, hash: string): Promise<Lookup> {
    return this.lookups.submit({ scope, key, hash });
  }

  /**
   * Stores an answer for a key that was free at lookup (a rejected command:
   * no events to go with it). False when the key has been taken meanwhile:
   * that attempt's answer stands.
   */
  record(receipt: Receipt): Promise<boolean> {
    return this.records.submit(receipt);
  }

  /**
   * The statement that stores receipts in an append's transaction (see the
   * event-store port's TransactionalAppend). A key already present fails it with a
   * unique violation: see isReceiptConflict.
   */
  receiptWrite(receipts: readonly Receipt[]): CompanionWrite {
    return {
      sql: (p) => `INSERT INTO cmd_idempotency (scope, key, request_hash, actor, correlation_id, status_code, response, first_seen_at)
        SELECT v.scope, v.key, v.hash, v.actor, v.correlation_id, v.status_code, jsonb_set(v.response, '{position}', to_jsonb(a.position)), v.first_seen_at
          FROM appended a,
               unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::integer[], ${p(7)}::jsonb[], ${p(8)}::timestamptz[])
                 AS v(scope, key, hash, actor, correlation_id, status_code, response, first_seen_at)
         WHERE a.outcome = 'ok'`,
      values: receiptColumns(receipts),
    };
  }

  /** Appends with receipts and guards, for an event store whose transactional append runs in the same PostgreSQL database as these keys. */
  atomicAppender(transactional: TransactionalAppend): AtomicAppender {
    return {
      append: (stream, events, options, receipts) => transactional.append(stream, events, options, receipts.length > 0 ? this.receiptWrite(receipts) : undefined),
      isReceiptConflict: (error) => IdempotencyStore.isReceiptConflict(error),
    };
  }

  /** True when a receipt write failed because its key was taken by a concurrent command. */
  static isReceiptConflict(error: unknown): boolean {
    return error instanceof Error && "code" in error && error.code === "23505" && "constraint" in error && error.constraint === "cmd_idempotency_pkey";
  }

  private async lookupMany(items: readonly LookupItem[]): Promise<Lookup[]> {
    const found = await this.pool.query<Row & { scope: string; key: string }>(LOOKUP_SQL, [items.map((i) => i.scope), items.map((i) => i.key)]);
    const rows = new Map(found.rows.map((r) => [`${r.scope}\u0000${r.key}`, r]));
    return items.map((item) => {
      const row = rows.get(`${item.scope}\u0000${item.key}`);
      if (row === undefined) return { kind: "absent" };
      const known = outcome(row, { ...item, origin: { actor: "", correlationId: "" } }, false);
      if (known.kind === "new") throw new Error("a looked-up key cannot be new");
      return known;
    });
  }

  private async recordMany(items: readonly Receipt[]): Promise<boolean[]> {
    // Refusals only (a success's receipt goes with its events): durable, see the top of this file.
    const inserted = await this.durablePool.query<{ scope: string; key: string }>({
      name: "cmd_idempotency_record",
      text: `INSERT INTO cmd_idempotency (scope, key, request_hash, actor, correlation_id, status_code, response, first_seen_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::jsonb[], $8::timestamptz[])
             ON CONFLICT (scope, key) DO NOTHING
             RETURNING scope, key`,
      values: receiptColumns(items),
    });
    const written = new Set(inserted.rows.map((r) => `${r.scope}\u0000${r.key}`));
    // The same key twice in one batch: only the first counts as written.
    return items.map((item) => written.delete(`${item.scope}\u0000${item.key}`));
  }

  private async beginMany(items: readonly BeginItem[]): Promise<Begin[]> {
    const inserted = await this.pool.query<Row & { scope: string; key: string }>({
      name: "cmd_idempotency_claim",
      text: `INSERT INTO cmd_idempotency (scope, key, request_hash, actor, correlation_id)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             ON CONFLICT (scope, key) DO NOTHING
             RETURNING scope, key, request_hash, first_seen_at, actor, correlation_id, status_code, response, true AS inserted`,
      values: [items.map((i) => i.scope), items.map((i) => i.key), items.map((i) => i.hash), items.map((i) => i.origin.actor), items.map((i) => i.origin.correlationId)],
    });
    const rows = new Map(inserted.rows.map((r) => [`${r.scope}\u0000${r.key}`, r]));
    const missing = items.filter((i) => !rows.has(`${i.scope}\u0000${i.key}`));
    if (missing.length > 0) {
      const found = await this.pool.query<Row & { scope: string; key: string }>(LOOKUP_SQL, [missing.map((i) => i.scope), missing.map((i) => i.key)]);
      for (const r of found.rows) rows.set(`${r.scope}\u0000${r.key}`, r);
    }
    const claimed = new Set<string>();
    return items.map((item) => {
      const id = `${item.scope}\u0000${item.key}`;
      const row = rows.get(id);
      if (row === undefined) throw new Error(`idempotency key ${item.scope}/${item.key} neither inserted nor found`);
      // The same key twice in one batch: the first runs the command, the second is a concurrent retry.
      const inserted = row.inserted && !claimed.has(id);
      claimed.add(id);
      return outcome(row, item, inserted);
    });
  }

  /**
   * First answer wins: an answered key is never overwritten (two attempts of
   * one command may both finish, e.g. after a lost answer; their answers can
   * differ only in `replayed`). Returns the key's stored answer, which is
   * this one unless another was stored first.
   */
  private async completeMany(pool: pg.Pool, items: readonly CompleteItem[]): Promise<(Answer & { won: boolean })[]> {
    const result = await pool.query<{ ord: string; status_code: number | null; response: unknown; won: boolean }>(
      `WITH v AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::jsonb[]) WITH ORDINALITY AS v(scope, key, status_code, response, ord)
       ), updated AS (
         UPDATE cmd_idempotency c SET status_code = v.status_code, response = v.response
           FROM (SELECT DISTINCT ON (scope, key) * FROM v ORDER BY scope, key, ord) v
          WHERE c.scope = v.scope AND c.key = v.key AND c.status_code IS NULL
         RETURNING c.scope, c.key, c.status_code, c.response
       )
       SELECT v.ord, COALESCE(u.status_code, c.status_code) AS status_code, COALESCE(u.response, c.response) AS response,
              (u.key IS NOT NULL AND v.ord = (SELECT min(w.ord) FROM v w WHERE w.scope = v.scope AND w.key = v.key)) AS won
         FROM v LEFT JOIN updated u ON u.scope = v.scope AND u.key = v.key
                LEFT JOIN cmd_idempotency c ON c.scope = v.scope AND c.key = v.key
        ORDER BY v.ord`,
      [items.map((i) => i.scope), items.map((i) => i.key), items.map((i) => i.statusCode), items.map((i) => JSON.stringify(i.response))],
    );
    return result.rows.map((row, i) => {
      const item = items[i];
      if (item === undefined || row.status_code === null) throw new Error(`idempotency key ${item?.scope ?? "?"}/${item?.key ?? "?"} was not claimed before its answer`);
      return { statusCode: row.status_code, response: row.response, won: row.won };
    });
  }
}

/** A key's stored answer. */
export interface Answer {
  readonly statusCode: number;
  readonly response: unknown;
}

function receiptColumns(receipts: readonly Receipt[]): unknown[] {
  return [
    receipts.map((r) => r.scope),
    receipts.map((r) => r.key),
    receipts.map((r) => r.hash),
    receipts.map((r) => r.origin.actor),
    receipts.map((r) => r.origin.correlationId),
    receipts.map((r) => r.statusCode),
    receipts.map((r) => JSON.stringify(r.response)),
    receipts.map((r) => r.firstSeenAt.toISOString()),
  ];
}

function outcome(row: Row, item: BeginItem, inserted: boolean): Begin {
  if (row.request_hash !== item.hash) return { kind: "conflict" };
  // Keys claimed before migration 2 have no origin stored: the current one is the best there is.
  const origin: Origin = { actor: row.actor ?? item.origin.actor, correlationId: row.correlation_id ?? item.origin.correlationId };
  if (inserted) return { kind: "new", firstSeenAt: row.first_seen_at, origin };
  if (row.status_code !== null) return { kind: "replay", statusCode: row.status_code, response: row.response };
  return { kind: "retry", firstSeenAt: row.first_seen_at, origin };
}
