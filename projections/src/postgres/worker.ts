// The projection worker: reads batches after its checkpoint, applies each
// batch and moves the checkpoint in one transaction, and when caught up
// sleeps until the event store says something new was appended (a live
// subscription used only as a wake-up; the events are read with readAll).
// Transient failures (an outage, a deadlock) are retried with capped backoff
// for as long as they last. A batch that fails otherwise is replayed one event
// at a time to find the event responsible; that event becomes a dead letter
// and is parked or held on, as the projection's policy says. Any other
// failure stops the worker with the error (state "failed").
import pg from "pg";
import { BehaviorSubject, Observable, Subject, catchError, filter, firstValueFrom, map, race, timer } from "rxjs";
import type { EventStore, Position, RecordedEvent } from "@trueup/event-store";
import { ProjectionEventError, ProjectionFailedError, rootCause } from "../errors.ts";
import { BATCH_SIZE_DEFAULT, checkBatchSize, commitBatch, isEmptyBatch, readBatch } from "./batch.ts";
import type { Batch } from "./batch.ts";
import { readCheckpoint } from "./checkpoint.ts";
import { blockOnEvent, deadLetterDdl, errorText, parkEvent, resolveDeadLetter, retryRequested } from "./dead-letter.ts";
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

/** Failures in a row before the worker says it cannot work (/ready 503): one deadlock retried is not an outage. */
export const UNREADY_AFTER_FAILURES = 3;
/** A worker held on a dead letter looks this often whether an operator asked for a retry (a retry in-process wakes it at once). */
export const HALT_RECHECK_MS_DEFAULT = 5_000;
/**
 * Events parked one after another with nothing applied between them: beyond
 * this it is not a bad event but a broken projection or read model, and the
 * worker stops instead of parking the whole log.
 */
export const PARKED_IN_A_ROW_MAX = 100;

/**
 * What a worker needs is what a rebuild needs. batchSizeMax: events per batch
 * (= per transaction); default 1000, at most 10,000. retry: the backoff of
 * transient failures (the worker retries for as long as they last; its
 * attemptsMax bounds only the retries inside a rebuild).
 */
export type ProjectionWorkerOptions = RebuildOptions & {
  readonly haltRecheckMs?: number;
  /** How often waitForPosition's shared poller looks while this worker reports its commits (a safety net; default 1 s). */
  readonly waitPollIntervalMs?: number;
  /** Reads that may wait in waitForPosition at once; one more is refused with OVERLOADED (default WAITER_LIMITS.waitersMax). */
  readonly waitersMax?: number;
};

/**
 * `running`: applying or waiting for events; `retrying`: transient failures in
 * a row (an outage); `halted`: held on a dead letter (policy "stop") until a
 * retry; `failed`: stopped for good with an error; `idle`/`stopped`: before
 * start() and after stop().
 */
export type WorkerState = "idle" | "running" | "retrying" | "halted" | "failed" | "stopped";

export interface WorkerStatus {
  readonly projection: string;
  readonly state: WorkerState;
  readonly consecutiveFailures: number;
  /** The failure behind `retrying`, `halted` or `failed`. */
  readonly lastError: string | undefined;
  /** The dead letter a halted worker is held on. */
  readonly haltedAt: Position | undefined;
  /** When the worker entered `state`. */
  readonly since: Date;
}

export class ProjectionWorker {
  readonly projection: PostgresProjection;
  private readonly pool: pg.Pool;
  private readonly eventStore: EventStore;
  private readonly batchSizeMax: number;
  private readonly retry: RetryPolicy;
  private readonly haltRecheckMs: number;
  private readonly stopped$ = new BehaviorSubject(false);
  private readonly retryAsked$ = new Subject<void>();
  /** In-memory copy of the committed checkpoint (valid once `opened`). */
  private after: Position | undefined;
  private opened = false;
  private running: Promise<void> | undefined;
  private lastDrainMs = 0;
  private prefetched: { readonly after: Position | undefined; readonly batch: Promise<Batch> } | undefined;
  /** Reads in this process waiting for a position: woken by each commit of this worker. */
  private readonly waiters: CheckpointWaiters;
  private current: WorkerStatus;
  /** A blocking dead letter retried on request: resolved once the checkpoint passes it. */
  private retrying: Position | undefined;
  private parkedInARow = 0;
  /** The error of the event a halted worker is held on. */
  private haltCause: unknown;

  constructor(options: ProjectionWorkerOptions) {
    checkProjection(options.projection);
    this.projection = options.projection;
    this.pool = options.pool;
    this.eventStore = options.eventStore;
    this.batchSizeMax = checkBatchSize(options.batchSizeMax ?? options.projection.batchSizeMax ?? BATCH_SIZE_DEFAULT);
    this.retry = checkRetryPolicy(options.retry ?? RETRY_DEFAULT);
    this.waiters = new CheckpointWaiters({ pool: this.pool, projection: this.projection, pollIntervalMs: options.waitPollIntervalMs ?? WAITER_LIMITS.fedPollIntervalMs, waitersMax: options.waitersMax ?? WAITER_LIMITS.waitersMax });
    this.haltRecheckMs = options.haltRecheckMs ?? HALT_RECHECK_MS_DEFAULT;
    if (!(this.haltRecheckMs >= 1 && this.haltRecheckMs <= 300_000)) throw new RangeError("haltRecheckMs must be in 1..300000");
    this.current = { projection: this.projection.name, state: "idle", consecutiveFailures: 0, lastError: undefined, haltedAt: undefined, since: new Date() };
  }

  /**
   * Runs until stop() (resolves) or a failure that is neither transient nor
   * one event's (rejects with it). Outages and dead letters held on do not
   * end it. A stopped worker stays stopped.
   */
  start(): Promise<void> {
    return this.exclusive(() => this.drain({ untilCaughtUp: false }));
  }

  /**
   * Applies batches until one reaches the head of the log; for tests, tools
   * and a first catch-up. Rejects with the event's error when it halts on a
   * dead letter (the dead letter is recorded all the same).
   */
  runUntilCaughtUp(): Promise<void> {
    return this.exclusive(() => this.drain({ untilCaughtUp: true }));
  }

  /** Asks the worker to stop; resolves once the batch in flight (if any) has committed or rolled back. */
  async stop(): Promise<void> {
    this.stopped$.next(true);
    await this.running?.catch(() => undefined);
  }

  /** Wakes a worker halted on a dead letter to look for an operator's retry now (see retryDeadLetters). */
  retryNow(): void {
    this.retryAsked$.next();
  }

  /** Position of the last committed batch as this worker knows it. */
  get checkpoint(): Position | undefined {
    return this.after;
  }

  get status(): WorkerStatus {
    return this.current;
  }

  /** Why this worker cannot keep its read model current right now; undefined when it can. */
  get unreadyReason(): string | undefined {
    const { state, consecutiveFailures, lastError, haltedAt } = this.current;
    const name = this.projection.name;
    switch (state) {
      case "running":
        return undefined;
      case "retrying":
        return consecutiveFailures < UNREADY_AFTER_FAILURES ? undefined : `projection ${name} cannot work: ${consecutiveFailures} failures in a row, the last: ${lastError ?? "-"}`;
      case "halted":
        return `projection ${name} is stopped on the dead letter at position ${haltedAt ?? "-"} (${lastError ?? "-"}); retry it after a fix`;
      case "failed":
        return `projection ${name} has stopped: ${lastError ?? "-"}`;
      case "idle":
      case "stopped":
        return `projection ${name} is not running`;
      default: {
        const unknown: never = state;
        throw new TypeError(`unknown worker state ${String(unknown)}`);
      }
    }
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

  private halted(): boolean {
    return this.current.haltedAt !== undefined;
  }

  private enter(state: WorkerState, changes: Partial<Omit<WorkerStatus, "state" | "projection" | "since">> = {}): void {
    const since = state === this.current.state ? this.current.since : new Date();
    this.current = { ...this.current, ...changes, state, since };
  }

  private exclusive(run: () => Promise<void>): Promise<void> {
    if (this.running !== undefined) return Promise.reject(new Error(`projection worker ${this.projection.name} is already running`));
    const running = run().finally(() => {
      this.running = undefined;
      if (this.current.state !== "failed" && this.current.state !== "halted") this.enter("stopped");
    });
    this.running = running;
    return running;
  }

  private async drain(options: { readonly untilCaughtUp: boolean }): Promise<void> {
    let failures = 0;
    if (this.current.state !== "halted") this.enter("running", { consecutiveFailures: 0, lastError: undefined });
    while (!this.stopped$.value) {
      let caughtUp: boolean;
      try {
        if (this.halted()) {
          if (options.untilCaughtUp) throw this.haltCause;
          await this.whileHalted();
          continue;
        }
        caughtUp = await this.step();
        failures = 0;
        if (this.current.state === "retrying") this.enter("running", { consecutiveFailures: 0, lastError: undefined });
      } catch (error) {
        if (!retryable(error)) {
          this.enter("failed", { lastError: errorText(error) });
          throw error;
        }
        // No bound on the attempts: an outage lasts as long as it lasts, and the backoff is capped.
        failures += 1;
        this.enter("retrying", { consecutiveFailures: failures, lastError: errorText(error) });
        await this.sleep(backoffDelayMs(this.retry, failures));
        continue;
      }
      if (this.halted() && options.untilCaughtUp) throw this.haltCause;
      if (caughtUp && options.untilCaughtUp) return;
      if (caughtUp) await this.waitForEvents();
    }
  }

  /** One batch. Returns true when the worker has reached the head. */
  private async step(): Promise<boolean> {
    if (!this.opened) await this.open();
    try {
      const batch = await this.nextBatch();
      if (isEmptyBatch(batch)) return batch.caughtUp;
      // More is waiting: read the next batch while this one is applied (one batch ahead, no more).
      if (!batch.caughtUp) this.prefetch(batch.to);
      if (!(await this.commit(batch))) return await this.follow();
      await this.committed(batch.to);
      return batch.caughtUp;
    } catch (error) {
      if (!(error instanceof ProjectionEventError || error instanceof ProjectionFailedError)) throw error;
      this.prefetched = undefined;
      return this.isolate();
    }
  }

  /** Someone else moved the checkpoint (a rebuild swapped the schema in, or a second worker): follow it. */
  private async follow(): Promise<false> {
    this.prefetched = undefined;
    const current = await readCheckpoint(this.pool, this.projection, this.projection.schemaName);
    this.opened = current !== undefined;
    this.after = current?.position;
    this.waiters.advanced(current?.position);
    return false;
  }

  private async committed(to: Position | undefined): Promise<void> {
    this.after = to;
    this.waiters.advanced(to);
    this.parkedInARow = 0;
    const retried = this.retrying;
    if (retried !== undefined && to !== undefined && to >= retried) {
      await resolveDeadLetter(this.pool, { schemaName: this.projection.schemaName, position: retried });
      this.retrying = undefined;
    }
  }

  /**
   * A batch failed for a reason that is not transient: replays it one event
   * at a time (each its own transaction) until the event that fails alone,
   * which becomes a dead letter. Bounded by the batch size: the failed batch
   * had at most that many events.
   */
  private async isolate(): Promise<boolean> {
    for (let n = 0; n < this.batchSizeMax; n++) {
      const [event] = await this.eventStore.readAll({ after: this.after, filter: this.projection.filter, maxCount: 1 });
      if (event === undefined) return false;
      const after = this.after;
      try {
        const batch: Batch = { after, events: [event], to: event.position, caughtUp: false, plan: this.projection.plan([event]) };
        if (!(await this.commit(batch))) return await this.follow();
      } catch (error) {
        if (retryable(error)) throw error;
        await this.unprojectable({ after, event, error });
        return false;
      }
      await this.committed(event.position);
    }
    return false;
  }

  private async unprojectable(options: { readonly after: Position | undefined; readonly event: RecordedEvent; readonly error: unknown }): Promise<void> {
    const { projection, pool } = this;
    const { event, error } = options;
    const target = { projection, schemaName: projection.schemaName, ...options };
    if (projection.onUnprojectable(rootCause(error)) === "park") {
      this.parkedInARow += 1;
      if (this.parkedInARow > PARKED_IN_A_ROW_MAX) {
        throw new ProjectionFailedError({ projection: projection.name, events: [event], cause: new Error(`${PARKED_IN_A_ROW_MAX} events in a row could not be applied: the projection, not the events, is broken`, { cause: error }) });
      }
      if (await parkEvent(pool, target)) {
        this.after = event.position;
        this.waiters.advanced(event.position);
      } else {
        await this.follow();
      }
      return;
    }
    await blockOnEvent(pool, target);
    this.retrying = undefined;
    this.haltCause = error;
    this.enter("halted", { haltedAt: event.position, lastError: errorText(error) });
  }

  /** Held on a dead letter: look for an operator's retry now and then (or when woken); no busy loop. */
  private async whileHalted(): Promise<void> {
    await firstValueFrom(race(timer(this.haltRecheckMs), this.retryAsked$, this.stopped$.pipe(filter(Boolean))));
    if (this.stopped$.value) return;
    const haltedAt = this.current.haltedAt;
    if (haltedAt === undefined) return;
    if (!(await retryRequested(this.pool, { projection: this.projection, schemaName: this.projection.schemaName, position: haltedAt }))) return;
    this.retrying = haltedAt;
    this.enter("running", { haltedAt: undefined, lastError: undefined, consecutiveFailures: 0 });
  }

  private async open(): Promise<void> {
    const { pool, eventStore, projection, batchSizeMax, retry } = this;
    const checkpoint = await openProjectionSchema({ pool, eventStore, projection, batchSizeMax, retry });
    // Schemas made before dead letters existed get their table here (new ones are created with it).
    await pool.query(deadLetterDdl(projection.schemaName)).catch((error: unknown) => {
      // Two workers adding it at once: the other one won.
      if (!(error instanceof pg.DatabaseError && (error.code === "23505" || error.code === "42P07"))) throw error;
    });
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
      return await inTransaction(this.pool, (tx) => commitBatch(tx, this.projection, this.projection.schemaName, batch, this.eventStore));
    } catch (error) {
      if (isTransient(error) || error instanceof ProjectionEventError) throw error;
      throw new ProjectionFailedError({ projection: this.projection.name, events: batch.events, cause: error });
    }
  }

  /**
   * Until something is appended after the checkpoint, stop() is called, or the
   * idle re-check is due. The wake-up is deliberately unfiltered: the
   * checkpoint also moves past events the projection does not read, so a
   * caller waiting for such a position (read-your-writes) is answered too.
   * It reads no event (waitForAppend): a wake-up after each of an import's
   * line batches would otherwise read that batch, data and all, once per worker.
   */
  private async waitForEvents(): Promise<void> {
    const appended$ = new Observable<"appended">((subscriber) => {
      const controller = new AbortController();
      this.eventStore.waitForAppend(this.after, { signal: controller.signal }).then(
        () => {
          subscriber.next("appended");
          subscriber.complete();
        },
        (error: unknown) => {
          subscriber.error(error);
        },
      );
      return () => {
        controller.abort();
      };
    }).pipe(catchError(() => timer(WAKE_ERROR_DELAY_MS).pipe(map(() => "error" as const))));
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

/** Transient failures, a rebuild elsewhere (waited for like an outage), and a rebuild whose own retries ran out in an outage. */
function retryable(error: unknown): boolean {
  if (isTransient(error) || error instanceof RebuildInProgressError) return true;
  return error instanceof RetriesExhaustedError && isTransient(error.cause);
}
