// The projection worker: reads batches after its checkpoint, applies each
// batch and moves the checkpoint in one transaction, and when caught up
// sleeps until the event store says something new was appended (a live
// subscription used only as a wake-up; the events are read with readAll).
// Transient failures are retried with capped backoff; anything else stops
// the worker with the error (an event it cannot project is never skipped).
import type pg from "pg";
import { BehaviorSubject, catchError, filter, firstValueFrom, map, race, timer } from "rxjs";
import type { EventStore, Position } from "@trueup/event-store";
import { observeSubscription } from "@trueup/event-store";
import { ProjectionEventError, ProjectionFailedError } from "../errors.ts";
import { BATCH_SIZE_DEFAULT, checkBatchSize, commitBatch, isEmptyBatch, readBatch } from "./batch.ts";
import type { Batch } from "./batch.ts";
import { readCheckpoint } from "./checkpoint.ts";
import { checkProjection } from "./definition.ts";
import type { PostgresProjection } from "./definition.ts";
import { projectionLag } from "./lag.ts";
import type { ProjectionLag } from "./lag.ts";
import { RebuildInProgressError, openProjectionSchema, rebuildProjection } from "./rebuild.ts";
import type { RebuildOptions, RebuildResult } from "./rebuild.ts";
import { RETRY_DEFAULT, RetriesExhaustedError, backoffDelayMs, checkRetryPolicy, isTransient } from "./retry.ts";
import type { RetryPolicy } from "./retry.ts";
import { inTransaction } from "./transaction.ts";
import { CheckpointWaiters, WAITER_LIMITS } from "./waiters.ts";

/** While idle, look again this often even without a wake-up (covers a lost notification). */
export const IDLE_RECHECK_MS = 30_000;
/** After the wake-up subscription fails, wait this long before draining again (no busy loop on a broken LISTEN). */
export const WAKE_ERROR_DELAY_MS = 1_000;
/** Idle drains start at most this often, so a stream of unrelated events cannot spin the worker. */
export const IDLE_DRAIN_INTERVAL_MIN_MS = 5;

/** What a worker needs is what a rebuild needs. batchSizeMax: events per batch (= per transaction); default 1000, at most 10,000. */
export type ProjectionWorkerOptions = RebuildOptions & {
  /** How often waitForPosition's shared poller looks while this worker reports its commits (a safety net; default 1 s). */
  readonly waitPollIntervalMs?: number;
};

export class ProjectionWorker {
  readonly projection: PostgresProjection;
  private readonly pool: pg.Pool;
  private readonly eventStore: EventStore;
  private readonly batchSizeMax: number;
  private readonly retry: RetryPolicy;
  private readonly stopped$ = new BehaviorSubject(false);
  /** In-memory copy of the committed checkpoint (valid once `opened`). */
  private after: Position | undefined;
  private opened = false;
  private running: Promise<void> | undefined;
  private lastDrainMs = 0;
  private prefetched: { readonly after: Position | undefined; readonly batch: Promise<Batch> } | undefined;
  /** Reads in this process waiting for a position: woken by each commit of this worker. */
  private readonly waiters: CheckpointWaiters;

  constructor(options: ProjectionWorkerOptions) {
    checkProjection(options.projection);
    this.projection = options.projection;
    this.pool = options.pool;
    this.eventStore = options.eventStore;
    this.batchSizeMax = checkBatchSize(options.batchSizeMax ?? BATCH_SIZE_DEFAULT);
    this.retry = checkRetryPolicy(options.retry ?? RETRY_DEFAULT);
    this.waiters = new CheckpointWaiters({ pool: this.pool, projection: this.projection, pollIntervalMs: options.waitPollIntervalMs ?? WAITER_LIMITS.fedPollIntervalMs });
  }

  /** Runs until stop() (resolves) or a failure that is not transient (rejects with it). A stopped worker stays stopped. */
  start(): Promise<void> {
    return this.exclusive(() => this.drain({ untilCaughtUp: false }));
  }

  /** Applies batches until one reaches the head of the log; for tests, tools and a first catch-up. */
  runUntilCaughtUp(): Promise<void> {
    return this.exclusive(() => this.drain({ untilCaughtUp: true }));
  }

  /** Asks the worker to stop; resolves once the batch in flight (if any) has committed or rolled back. */
  async stop(): Promise<void> {
    this.stopped$.next(true);
    await this.running?.catch(() => undefined);
  }

  /** Position of the last committed batch as this worker knows it. */
  get checkpoint(): Position | undefined {
    return this.after;
  }

  lag(options: { readonly lagCountMax?: number } = {}): Promise<ProjectionLag> {
    return projectionLag({ pool: this.pool, eventStore: this.eventStore, projection: this.projection, ...options });
  }

  /** True once this projection's checkpoint is at or past `position`; every commit of this worker wakes the waiters it satisfies. */
  waitForPosition(position: Position, timeoutMs: number): Promise<boolean> {
    return this.waiters.wait(position, timeoutMs);
  }

  /** Rebuilds from position zero into a fresh schema and swaps it in; this worker follows the swap by itself. */
  rebuild(): Promise<RebuildResult> {
    return rebuildProjection({ pool: this.pool, eventStore: this.eventStore, projection: this.projection, batchSizeMax: this.batchSizeMax, retry: this.retry });
  }

  private exclusive(run: () => Promise<void>): Promise<void> {
    if (this.running !== undefined) return Promise.reject(new Error(`projection worker ${this.projection.name} is already running`));
    const running = run().finally(() => {
      this.running = undefined;
    });
    this.running = running;
    return running;
  }

  private async drain(options: { readonly untilCaughtUp: boolean }): Promise<void> {
    let failures = 0;
    while (!this.stopped$.value) {
      let caughtUp: boolean;
      try {
        caughtUp = await this.step();
        failures = 0;
      } catch (error) {
        failures += 1;
        // Another process rebuilding (e.g. after a version bump) is waited for like an outage.
        if (!isTransient(error) && !(error instanceof RebuildInProgressError)) throw error;
        if (failures > this.retry.attemptsMax) {
          throw new RetriesExhaustedError(`projection ${this.projection.name}: still failing after ${failures} attempts`, { cause: error });
        }
        await this.sleep(backoffDelayMs(this.retry, failures));
        continue;
      }
      if (caughtUp && options.untilCaughtUp) return;
      if (caughtUp) await this.waitForEvents();
    }
  }

  /** One batch. Returns true when the worker has reached the head. */
  private async step(): Promise<boolean> {
    if (!this.opened) await this.open();
    const batch = await this.nextBatch();
    if (isEmptyBatch(batch)) return batch.caughtUp;
    // More is waiting: read the next batch while this one is applied (one batch ahead, no more).
    if (!batch.caughtUp) this.prefetch(batch.to);
    if (await this.commit(batch)) {
      this.after = batch.to;
      this.waiters.advanced(batch.to);
      return batch.caughtUp;
    }
    // Someone else moved the checkpoint (a rebuild swapped the schema in, or a second worker): follow it.
    this.prefetched = undefined;
    const current = await readCheckpoint(this.pool, this.projection, this.projection.schemaName);
    this.opened = current !== undefined;
    this.after = current?.position;
    this.waiters.advanced(current?.position);
    return false;
  }

  private async open(): Promise<void> {
    const { pool, eventStore, projection, batchSizeMax, retry } = this;
    const checkpoint = await openProjectionSchema({ pool, eventStore, projection, batchSizeMax, retry });
    this.after = checkpoint.position;
    this.opened = true;
    this.waiters.advanced(checkpoint.position);
  }

  private nextBatch(): Promise<Batch> {
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    if (prefetched !== undefined && prefetched.after === this.after) return prefetched.batch;
    return readBatch(this.eventStore, this.projection, { after: this.after, batchSizeMax: this.batchSizeMax });
  }

  private prefetch(after: Position | undefined): void {
    const batch = readBatch(this.eventStore, this.projection, { after, batchSizeMax: this.batchSizeMax });
    // Observed here so a failed read-ahead is not an unhandled rejection; it fails again where it is awaited.
    batch.catch(() => undefined);
    this.prefetched = { after, batch };
  }

  private async commit(batch: Batch): Promise<boolean> {
    try {
      return await inTransaction(this.pool, (tx) => commitBatch(tx, this.projection, this.projection.schemaName, batch));
    } catch (error) {
      if (isTransient(error) || error instanceof ProjectionEventError) throw error;
      throw new ProjectionFailedError({ projection: this.projection.name, events: batch.events, cause: error });
    }
  }

  /**
   * Until something is appended after the checkpoint, stop() is called, or the
   * idle re-check is due. The wake-up subscription is deliberately unfiltered:
   * the checkpoint also moves past events the projection does not read, so a
   * caller waiting for such a position (read-your-writes) is answered too.
   */
  private async waitForEvents(): Promise<void> {
    // One event is all a wake-up needs: bufferEventsMax 1 reads no more than that.
    const appended$ = observeSubscription(() => this.eventStore.subscribe({ after: this.after, bufferEventsMax: 1 })).pipe(
      map(() => "appended" as const),
      catchError(() => timer(WAKE_ERROR_DELAY_MS).pipe(map(() => "error" as const))),
    );
    const stopped$ = this.stopped$.pipe(filter(Boolean));
    await firstValueFrom(race(appended$, stopped$, timer(IDLE_RECHECK_MS)));
    const sinceLastMs = Date.now() - this.lastDrainMs;
    if (sinceLastMs < IDLE_DRAIN_INTERVAL_MIN_MS) await this.sleep(IDLE_DRAIN_INTERVAL_MIN_MS - sinceLastMs);
    this.lastDrainMs = Date.now();
  }

  /** A delay that stop() cuts short. */
  private async sleep(delayMs: number): Promise<void> {
    await firstValueFrom(race(timer(delayMs), this.stopped$.pipe(filter(Boolean))));
  }
}
