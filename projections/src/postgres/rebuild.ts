// Opening and rebuilding a projection's schema. A rebuild projects from
// position zero into `<schema>__build_<n>` while the live schema keeps
// serving (and its worker keeps writing), then swaps in one transaction:
// lock the live checkpoint (the live worker waits), apply the last few events
// to the build, lock the live tables briefly (readers wait, or the swap backs
// off and retries), rename live → old and build → live, drop old. Readers see
// the old tables or the new ones, never a mix and never an error.
import pg from "pg";
import type { EventStore, Position } from "@trueup/event-store";
import { BATCH_SIZE_DEFAULT, checkBatchSize, commitBatch, isEmptyBatch, readBatch } from "./batch.ts";
import type { Batch } from "./batch.ts";
import { createProjectionSchema, readCheckpoint } from "./checkpoint.ts";
import type { Checkpoint } from "./checkpoint.ts";
import { checkProjection, qualified } from "./definition.ts";
import type { PostgresProjection } from "./definition.ts";
import { RETRY_DEFAULT, withRetry } from "./retry.ts";
import type { RetryPolicy } from "./retry.ts";
import { inTransaction } from "./transaction.ts";

/** The swap waits this long for the live worker's batch in flight (it holds the checkpoint row). */
export const SWAP_WORKER_WAIT_MS = 10_000;
/** …and this long for readers of the old tables, well under deadlock_timeout (1 s); then it backs off and retries. */
export const SWAP_READER_WAIT_MS = 100;
/** Batches the swap may apply while the live worker is blocked: the build was caught up just before, so this is slack. */
export const SWAP_BATCHES_MAX = 50;
/** Batches a catch-up applies before it reports it cannot catch up (10^7 events at the default batch size). */
export const CATCH_UP_BATCHES_MAX = 10_000;

export interface RebuildOptions {
  readonly pool: pg.Pool;
  readonly eventStore: EventStore;
  readonly projection: PostgresProjection;
  readonly batchSizeMax?: number;
  readonly retry?: RetryPolicy;
}

export interface RebuildResult {
  /** The schema the build used before it was renamed to the live name. */
  readonly builtAs: string;
  readonly checkpoint: Checkpoint;
}

export class RebuildInProgressError extends Error {
  override readonly name = "RebuildInProgressError";
}

/**
 * The live checkpoint, creating the schema on first use and rebuilding it
 * when it was built by an older version of the projection.
 */
export async function openProjectionSchema(options: RebuildOptions): Promise<Checkpoint> {
  const { pool, projection } = options;
  checkProjection(projection);
  const existing = await readLiveCheckpoint(pool, projection);
  if (existing === undefined) return createIfMissing(pool, projection);
  if (existing.version === projection.version) return existing;
  if (existing.version > projection.version) {
    throw new Error(`${projection.schemaName} was built by version ${existing.version} of projection ${projection.name}; this build knows version ${projection.version}`);
  }
  return (await rebuildProjection(options)).checkpoint;
}

/**
 * The live schema's checkpoint (its `version` says which build of the
 * projection made it), or undefined when the schema does not exist yet.
 * Never creates or rebuilds anything: for processes that only read.
 */
export async function readLiveCheckpoint(pool: pg.Pool, projection: PostgresProjection): Promise<Checkpoint | undefined> {
  // Look before reading: on a first start, reading the missing table would
  // log an ERROR in the server's log for a perfectly normal situation.
  const present = await pool.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [qualified(projection.schemaName, "checkpoint")]);
  return present.rows[0]?.present === true ? readCheckpoint(pool, projection, projection.schemaName) : undefined;
}

async function createIfMissing(pool: pg.Pool, projection: PostgresProjection): Promise<Checkpoint> {
  await inTransaction(pool, async (tx) => {
    // Two workers starting at once: the second waits here, then sees the schema.
    await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [lockKey(projection)]);
    const { rows } = await tx.query<{ present: boolean }>("SELECT to_regnamespace($1) IS NOT NULL AS present", [projection.schemaName]);
    if (rows[0]?.present !== true) await createProjectionSchema(tx, projection, projection.schemaName);
  });
  const created = await readCheckpoint(pool, projection, projection.schemaName);
  if (created === undefined) throw new Error(`schema ${projection.schemaName} exists without a checkpoint for ${projection.name}`);
  return created;
}

/** Projects everything into a fresh schema and swaps it in; throws RebuildInProgressError if another rebuild runs. */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { pool, projection } = options;
  checkProjection(projection);
  const session = await pool.connect();
  // Held for the whole build, between queries too: a cut connection must fail the next query, not the process (see inTransaction).
  session.on("error", () => undefined);
  try {
    const { rows } = await session.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtextextended($1, 1)) AS locked", [lockKey(projection)]);
    if (rows[0]?.locked !== true) throw new RebuildInProgressError(`projection ${projection.name} is being rebuilt elsewhere`);
    return await buildAndSwap(session, options);
  } finally {
    // Closing the session releases its advisory lock whatever state the connection is in.
    session.release(true);
  }
}

async function buildAndSwap(session: pg.PoolClient, options: RebuildOptions): Promise<RebuildResult> {
  const { pool, projection } = options;
  const policy = options.retry ?? RETRY_DEFAULT;
  await dropLeftovers(session, projection);
  const suffix = Date.now().toString();
  const builtAs = `${projection.schemaName}__build_${suffix}`;
  await inTransaction(pool, (tx) => createProjectionSchema(tx, projection, builtAs));
  try {
    const checkpoint = await withRetry(() => swap(session, { ...options, builtAs, suffix }), { policy, what: `swap of ${projection.name}` });
    return { builtAs, checkpoint };
  } catch (error) {
    await session.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(builtAs)} CASCADE`).catch(() => undefined);
    throw error;
  }
}

/** Batches a rebuild reads ahead of the one it applies (each up to the batch size in memory). */
export const READ_AHEAD_BATCHES = 2;

/**
 * Drains into `schemaName` until a batch reaches the head; every batch its own
 * transaction. Reading runs ahead of applying (up to READ_AHEAD_BATCHES), so
 * Node decoding and planning the next pages and PostgreSQL writing this one
 * overlap: one batch ahead still left both idle a third of the time.
 */
export async function catchUp(options: RebuildOptions & { readonly schemaName: string }): Promise<Checkpoint> {
  const { pool, eventStore, projection, schemaName } = options;
  const batchSizeMax = checkBatchSize(options.batchSizeMax ?? options.projection.batchSizeMax ?? BATCH_SIZE_DEFAULT);
  const policy = options.retry ?? RETRY_DEFAULT;
  const read = (after: Position | undefined): Promise<Batch> => readBatch(eventStore, projection, { after, batchSizeMax });
  let reader: ReadAhead | undefined;
  try {
    for (let batches = 0; batches < CATCH_UP_BATCHES_MAX; batches++) {
      const step = async (): Promise<Checkpoint | undefined> => {
        // The checkpoint, not what this loop believes, says where to continue (a failed step may or may not have committed).
        const after = await currentPosition(pool, projection, schemaName);
        let current = reader;
        if (current === undefined || current.nextAfter !== after) {
          current?.stop();
          current = reader = new ReadAhead(read, after, READ_AHEAD_BATCHES);
        }
        const batch = await current.take();
        if (!isEmptyBatch(batch)) await inTransaction(pool, (tx) => commitBatch(tx, projection, schemaName, batch, eventStore));
        return batch.caughtUp ? readCheckpoint(pool, projection, schemaName) : undefined;
      };
      const done = await withRetry(step, { policy, what: `catch-up of ${projection.name} in ${schemaName}` });
      if (done !== undefined) return done;
    }
  } finally {
    reader?.stop();
  }
  throw new Error(`catch-up of ${projection.name} in ${schemaName} did not reach the head within ${CATCH_UP_BATCHES_MAX} batches`);
}

/** Reads batches one after another in the background, at most `depth` ahead of what was taken. */
class ReadAhead {
  private readonly buffer: { readonly after: Position | undefined; readonly batch: Promise<Batch> }[] = [];
  private readAfter: Position | undefined;
  private reading = false;
  private ended = false;

  constructor(
    private readonly read: (after: Position | undefined) => Promise<Batch>,
    after: Position | undefined,
    private readonly depth: number,
  ) {
    this.readAfter = after;
    this.fill();
  }

  /** Where the next batch taken starts (the position it reads after), if known. */
  get nextAfter(): Position | undefined | null {
    return this.buffer[0]?.after ?? (this.ended || this.reading ? null : this.readAfter);
  }

  take(): Promise<Batch> {
    const next = this.buffer.shift();
    if (next === undefined) throw new Error("read-ahead has nothing to take");
    this.fill();
    return next.batch;
  }

  stop(): void {
    this.ended = true;
  }

  private fill(): void {
    if (this.reading || this.ended || this.buffer.length >= this.depth) return;
    const after = this.readAfter;
    const batch = this.read(after);
    // Observed here so a failed read is not an unhandled rejection; it fails again where it is taken.
    batch.catch(() => undefined);
    this.buffer.push({ after, batch });
    this.reading = true;
    batch.then(
      (read) => {
        this.reading = false;
        if (read.caughtUp) this.ended = true;
        else this.readAfter = read.to;
        this.fill();
      },
      () => {
        this.reading = false;
        this.ended = true;
      },
    );
  }
}

async function swap(session: pg.PoolClient, options: RebuildOptions & { readonly builtAs: string; readonly suffix: string }): Promise<Checkpoint> {
  const { projection, builtAs } = options;
  const live = projection.schemaName;
  await catchUp({ ...options, schemaName: builtAs });
  await session.query("BEGIN");
  try {
    // The lock a first start takes to create the live schema: never both create it at once.
    await session.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [lockKey(projection)]);
    // Not readCheckpoint: a missing table would abort this transaction.
    const { rows } = await session.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [qualified(live, "checkpoint")]);
    const liveExists = rows[0]?.present === true;
    if (liveExists) await lockTables(session, [qualified(live, "checkpoint")], SWAP_WORKER_WAIT_MS);
    await finishBuild(session, { ...options, schemaName: builtAs });
    const old = `${live}__old_${options.suffix}`;
    if (liveExists) {
      await lockTables(session, await readerTables(session, live), SWAP_READER_WAIT_MS);
      await session.query(`ALTER SCHEMA ${pg.escapeIdentifier(live)} RENAME TO ${pg.escapeIdentifier(old)}`);
    }
    await session.query(`ALTER SCHEMA ${pg.escapeIdentifier(builtAs)} RENAME TO ${pg.escapeIdentifier(live)}`);
    if (liveExists) await session.query(`DROP SCHEMA ${pg.escapeIdentifier(old)} CASCADE`);
    const checkpoint = await readCheckpoint(session, projection, live);
    await session.query("COMMIT");
    if (checkpoint === undefined) throw new Error(`swapped schema ${live} has no checkpoint`);
    return checkpoint;
  } catch (error) {
    await session.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/**
 * Takes ACCESS EXCLUSIVE locks, giving up after `waitMs` (55P03: the swap is
 * retried). Readers' statements lock several tables one after another; a
 * short wait makes the swap, not a reader, the one that backs off.
 */
async function lockTables(tx: pg.PoolClient, tables: readonly string[], waitMs: number): Promise<void> {
  if (tables.length === 0) return;
  await tx.query(`SET LOCAL lock_timeout = ${waitMs}`);
  await tx.query(`LOCK TABLE ${tables.join(", ")} IN ACCESS EXCLUSIVE MODE`);
}

async function readerTables(tx: pg.PoolClient, schemaName: string): Promise<string[]> {
  const { rows } = await tx.query<{ relname: string }>(
    "SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace($1) AND relkind IN ('r', 'p') AND relname <> 'checkpoint' ORDER BY relname",
    [schemaName],
  );
  return rows.map((r) => qualified(schemaName, r.relname));
}

/** Inside the swap transaction: applies what was appended since the last catch-up. */
async function finishBuild(tx: pg.PoolClient, options: RebuildOptions & { readonly schemaName: string }): Promise<void> {
  const { eventStore, projection, schemaName } = options;
  const batchSizeMax = checkBatchSize(options.batchSizeMax ?? options.projection.batchSizeMax ?? BATCH_SIZE_DEFAULT);
  for (let batches = 0; batches < SWAP_BATCHES_MAX; batches++) {
    const after = await currentPosition(tx, projection, schemaName);
    const batch = await readBatch(eventStore, projection, { after, batchSizeMax });
    if (!isEmptyBatch(batch) && !(await commitBatch(tx, projection, schemaName, batch, eventStore))) {
      throw new Error(`checkpoint of build schema ${schemaName} moved during the swap`);
    }
    if (batch.caughtUp) return;
  }
  throw new Error(`swap of ${projection.name}: appends outpace the build (${SWAP_BATCHES_MAX} batches while swapping)`);
}

async function currentPosition(db: pg.Pool | pg.PoolClient, projection: PostgresProjection, schemaName: string): Promise<Position | undefined> {
  const checkpoint = await readCheckpoint(db, projection, schemaName);
  if (checkpoint === undefined) throw new Error(`schema ${schemaName} has no checkpoint for ${projection.name}`);
  return checkpoint.position;
}

/** Build schemas left by a rebuild that crashed; only one rebuild runs at a time (advisory lock), so they are garbage. */
async function dropLeftovers(session: pg.PoolClient, projection: PostgresProjection): Promise<void> {
  const { rows } = await session.query<{ nspname: string }>(
    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1 || '__build_') OR starts_with(nspname, $1 || '__old_')",
    [projection.schemaName],
  );
  for (const { nspname } of rows) await session.query(`DROP SCHEMA ${pg.escapeIdentifier(nspname)} CASCADE`);
}

function lockKey(projection: PostgresProjection): string {
  return `trueup.projection.${projection.schemaName}`;
}
