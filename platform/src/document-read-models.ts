// The document read models of one process: one document sink shared by every
// document projection (MongoDB when MONGO_URL is set, else JSONB tables in
// the platform's PostgreSQL, schema dm_documents), the lag of a document
// projection as the operations routes report it, and read-your-writes waits
// where no worker of this process reports its commits. One sink, not one per
// projection: one MongoDB client and one set of connections per process; the
// registry keeps the projections' collections apart and checkpoints are
// keyed by projection name.
import type pg from "pg";
import { TrueupError } from "@trueup/contracts";
import { READ_COUNT_MAX } from "@trueup/event-store";
import type { EventStore, Position } from "@trueup/event-store";
import { LAG_COUNT_MAX_DEFAULT, MongoDocumentSink, PostgresDocumentSink, TransientDocumentError, WAITER_LIMITS } from "@trueup/projections";
import type { DocumentProjection, DocumentSink, ProjectionLag } from "@trueup/projections";

/** The PostgreSQL schema of the document read models when no MongoDB is configured. */
export const DOCUMENT_SCHEMA_NAME = "dm_documents";
/** The MongoDB database when MONGO_URL names none (mongodb://host:27017/ without a path). */
export const MONGO_DATABASE_DEFAULT = "trueup";

export interface OpenedDocumentSink {
  readonly sink: DocumentSink;
  /** For the start-up log: where the documents are. */
  readonly description: string;
}

/**
 * MongoDB at `mongoUrl` (its path names the database), else the JSONB sink
 * on `pool`. Opening the JSONB sink creates its schema when missing: that
 * DDL is idempotent and versionless (CREATE … IF NOT EXISTS under an
 * advisory lock; no rebuild, no swap), so a reader that opens it cannot race
 * the projections service the way a PostgreSQL read model's rebuild could.
 */
export async function openDocumentSink(options: { readonly pool: pg.Pool; readonly mongoUrl: string | undefined }): Promise<OpenedDocumentSink> {
  if (options.mongoUrl === undefined) {
    const sink = await PostgresDocumentSink.open({ pool: options.pool, schemaName: DOCUMENT_SCHEMA_NAME });
    return { sink, description: `PostgreSQL JSONB (schema ${DOCUMENT_SCHEMA_NAME})` };
  }
  const databaseName = mongoDatabaseName(options.mongoUrl);
  const sink = await MongoDocumentSink.connect({ url: options.mongoUrl, databaseName });
  return { sink, description: `MongoDB (database ${databaseName})` };
}

/** The database a MongoDB URL names in its path (`mongodb://host/trueup?…`), else MONGO_DATABASE_DEFAULT. */
export function mongoDatabaseName(mongoUrl: string): string {
  const path = decodeURIComponent(new URL(mongoUrl).pathname.replace(/^\//, ""));
  return path === "" ? MONGO_DATABASE_DEFAULT : path;
}

/**
 * A read of the document store with its outage (the adapters' TransientDocumentError) as the catalogue's
 * STORE_UNAVAILABLE: a 503 the caller may retry, as for the PostgreSQL read models, not a 500.
 */
export async function readDocuments<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof TransientDocumentError) throw new TrueupError("STORE_UNAVAILABLE", error.message);
    throw error;
  }
}

export interface DocumentLagOptions {
  readonly sink: Pick<DocumentSink, "readCheckpoint">;
  readonly eventStore: EventStore;
  readonly projection: DocumentProjection;
  readonly lagCountMax?: number;
  readonly now?: () => Date;
}

/**
 * How far a document projection is behind the log, measured as projectionLag
 * measures a PostgreSQL one (the same bounded pages, held-back events
 * counted), from the checkpoint its sink keeps.
 */
export async function documentProjectionLag(options: DocumentLagOptions): Promise<ProjectionLag> {
  const { eventStore, projection } = options;
  const lagCountMax = options.lagCountMax ?? LAG_COUNT_MAX_DEFAULT;
  if (!Number.isInteger(lagCountMax) || lagCountMax < 1 || lagCountMax > READ_COUNT_MAX) throw new RangeError(`lagCountMax must be in 1..${READ_COUNT_MAX}`);
  const checkpoint = await readDocuments(() => options.sink.readCheckpoint(projection.name));
  const head = await eventStore.headPosition();
  // One page, never more: the cost of a look is bounded by lagCountMax, not by the lag.
  const page = await eventStore.readAll({ after: checkpoint, filter: projection.filter, maxCount: lagCountMax });
  let oldest = page[0]?.recordedAt;
  let heldBackEvents = 0;
  if (page.length < lagCountMax) {
    const after = page[page.length - 1]?.position ?? checkpoint;
    const held = await eventStore.readAll({ after, filter: projection.filter, maxCount: lagCountMax - page.length, includeHeldBack: true });
    oldest ??= held[0]?.recordedAt;
    heldBackEvents = held.length;
  }
  const nowMs = (options.now?.() ?? new Date()).getTime();
  const secondsBehind = oldest === undefined ? 0 : Math.max(0, (nowMs - oldest.getTime()) / 1000);
  return { positionsBehind: page.length, positionsBehindCapped: page.length >= lagCountMax, heldBackEvents, secondsBehind, checkpoint, head };
}

export interface DocumentCheckpointWaitersOptions {
  readonly sink: Pick<DocumentSink, "readCheckpoint">;
  readonly projection: DocumentProjection;
  /** Default WAITER_LIMITS.pollIntervalMs. */
  readonly pollIntervalMs?: number;
  /** Default WAITER_LIMITS.waitersMax; one more wait is refused with OVERLOADED. */
  readonly waitersMax?: number;
}

interface Waiter {
  readonly position: Position;
  readonly resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Read-your-writes waits on a document projection whose worker runs in
 * another process: ONE poller per projection reads the sink's checkpoint
 * while anyone waits (as CheckpointWaiters does for a PostgreSQL read
 * model), so a thousand waiting requests cost one query per poll interval,
 * not a thousand. The checkpoint only moves forward: the highest one seen
 * answers every waiter at or below it.
 */
export class DocumentCheckpointWaiters {
  private readonly waiters = new Set<Waiter>();
  private readonly pollIntervalMs: number;
  private readonly waitersMax: number;
  private known: Position | undefined;
  private polling = false;

  constructor(private readonly options: DocumentCheckpointWaitersOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? WAITER_LIMITS.pollIntervalMs;
    this.waitersMax = options.waitersMax ?? WAITER_LIMITS.waitersMax;
    if (!(Number.isInteger(this.pollIntervalMs) && this.pollIntervalMs >= 1 && this.pollIntervalMs <= WAITER_LIMITS.timeoutMaxMs)) {
      throw new RangeError(`pollIntervalMs must be an integer in 1..${WAITER_LIMITS.timeoutMaxMs}`);
    }
    if (!(Number.isInteger(this.waitersMax) && this.waitersMax >= 1 && this.waitersMax <= 1_000_000)) throw new RangeError("waitersMax must be an integer in 1..10^6");
  }

  /** True once the checkpoint is at or past `position`, false after `timeoutMs`; OVERLOADED when waitersMax requests already wait. */
  async wait(position: Position, timeoutMs: number): Promise<boolean> {
    if (!(timeoutMs >= 0 && timeoutMs <= WAITER_LIMITS.timeoutMaxMs)) throw new RangeError(`timeoutMs must be in 0..${WAITER_LIMITS.timeoutMaxMs}`);
    if (this.reached(position)) return true;
    if (this.waiters.size >= this.waitersMax) {
      throw new TrueupError("OVERLOADED", `${this.waitersMax} reads already wait for projection ${this.options.projection.name} to catch up; retry`);
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { position, resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.settle(waiter, this.reached(position));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.poll();
    });
  }

  private advanced(position: Position | undefined): void {
    if (position === undefined || (this.known !== undefined && position <= this.known)) return;
    this.known = position;
    for (const waiter of this.waiters) if (waiter.position <= position) this.settle(waiter, true);
  }

  private reached(position: Position): boolean {
    return this.known !== undefined && this.known >= position;
  }

  private settle(waiter: Waiter, reached: boolean): void {
    if (!this.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    waiter.resolve(reached);
  }

  /** Starts the one poller unless it runs; it stops by itself when nobody waits. */
  private poll(): void {
    if (this.polling) return;
    this.polling = true;
    void this.pollWhileWaited().finally(() => {
      this.polling = false;
    });
  }

  private async pollWhileWaited(): Promise<void> {
    while (this.waiters.size > 0) {
      try {
        this.advanced(await this.options.sink.readCheckpoint(this.options.projection.name));
      } catch {
        // The store away: nobody is told "reached" wrongly; the waiters time out, the next look retries.
      }
      if (this.waiters.size === 0) return;
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
  }
}
