// The document projection worker: reads batches of events after the sink's
// checkpoint, plans them into document changes (pure), and hands each batch
// with its new checkpoint to the sink's applyBatch. Exactly-once is the
// sink's: one transaction (PostgreSQL) or the per-document position guard
// plus a forward-only checkpoint (MongoDB), so a crash at any instant, and a
// retry of a batch whose outcome is unknown, neither loses nor doubles a
// change. When caught up it sleeps until the event store says something was
// appended (waitForAppend: a wake-up that reads no event data).
//
// Transient failures (an outage of the log or of the sink) are retried with
// capped backoff for as long as they last, visible in status(). Anything else
// stops the worker in state `failed` with the error.
//
// Known gap: no dead letters. A plan that throws (an event it cannot
// understand) fails the worker on that batch instead of isolating and
// parking the event as the PostgreSQL worker does; onUnprojectable is not
// consulted. A version bump does not rebuild by itself either: reset() the
// collections and start from zero.
import assert from "node:assert/strict";
import { TrueupError } from "@trueup/contracts";
import type { EventStore, Position, RecordedEvent } from "@trueup/event-store";
import type { ProjectionDefinition } from "../definition.ts";
import { ProjectionEventError, ProjectionFailedError } from "../errors.ts";
import { BATCH_SIZE_DEFAULT, checkBatchSize } from "../postgres/batch.ts";
import { errorText } from "../postgres/dead-letter.ts";
import { RETRY_DEFAULT, backoffDelayMs, checkRetryPolicy, isTransient } from "../postgres/retry.ts";
import type { RetryPolicy } from "../postgres/retry.ts";
import { DocumentBatchTooLargeError, TransientDocumentError, checkCollection, checkProjectionName } from "./port.ts";
import type { DocumentChange, DocumentSink } from "./port.ts";

export const DOCUMENT_WORKER_LIMITS = {
  /** While idle, look again this often even without a wake-up (covers a lost notification). */
  idleRecheckMs: 30_000,
  /** After the wake-up itself fails, wait this long before reading again (no busy loop on a broken LISTEN). */
  wakeErrorDelayMs: 1_000,
  /** Longest wait one waitForPosition may ask for. */
  waitTimeoutMaxMs: 60_000,
  /** Callers waiting in waitForPosition at once; one more is refused with OVERLOADED. */
  waitersMax: 10_000,
  /** Collections one projection may write (what a reset must cover). */
  collectionsMax: 100,
} as const;

/**
 * A projection into documents: the common definition, whose plan turns a
 * batch of events into document changes, plus the collections it writes (a
 * change to any other is a bug, refused). Changes carry their event's
 * position: the sink's guard needs it.
 */
export interface DocumentProjection extends ProjectionDefinition<readonly DocumentChange[]> {
  readonly kind: "document";
  readonly collections: readonly string[];
}

export interface DocumentProjectionWorkerOptions {
  readonly eventStore: EventStore;
  readonly sink: DocumentSink;
  readonly projection: DocumentProjection;
  /** Events per batch: default the projection's, else BATCH_SIZE_DEFAULT; at most BATCH_SIZE_MAX (10,000). */
  readonly batchSizeMax?: number;
  /** Backoff of transient failures (retried for as long as they last; attemptsMax is not used). */
  readonly retry?: RetryPolicy;
}

/** `retrying`: transient failures in a row (an outage); `failed`: stopped for good with an error; `idle`/`stopped`: before start() and after stop(). */
export type DocumentWorkerState = "idle" | "running" | "retrying" | "failed" | "stopped";

export interface DocumentWorkerStatus {
  readonly projection: string;
  readonly state: DocumentWorkerState;
  readonly consecutiveFailures: number;
  readonly lastError: string | undefined;
  /** Everything up to here is applied, as this worker knows it. */
  readonly checkpoint: Position | undefined;
  readonly since: Date;
}

export function checkDocumentProjection(projection: DocumentProjection): void {
  checkProjectionName(projection.name);
  if (!Number.isInteger(projection.version) || projection.version < 1) throw new RangeError("projection version must be a positive integer");
  if (projection.collections.length < 1 || projection.collections.length > DOCUMENT_WORKER_LIMITS.collectionsMax) {
    throw new RangeError(`a document projection writes 1..${DOCUMENT_WORKER_LIMITS.collectionsMax} collections`);
  }
  for (const [index, collection] of projection.collections.entries()) checkCollection(collection, `collections[${index}]`);
}

export class DocumentProjectionWorker {
  readonly projection: DocumentProjection;
  private readonly eventStore: EventStore;
  private readonly sink: DocumentSink;
  private readonly batchSizeMax: number;
  private readonly retry: RetryPolicy;
  private readonly collections: ReadonlySet<string>;
  private readonly stopping = new AbortController();
  private readonly waiters = new PositionWaiters();
  /** The sink's checkpoint (valid once `opened`). */
  private after: Position | undefined;
  private opened = false;
  private running: Promise<void> | undefined;
  private current: DocumentWorkerStatus;

  constructor(options: DocumentProjectionWorkerOptions) {
    checkDocumentProjection(options.projection);
    this.projection = options.projection;
    this.eventStore = options.eventStore;
    this.sink = options.sink;
    this.batchSizeMax = checkBatchSize(options.batchSizeMax ?? options.projection.batchSizeMax ?? BATCH_SIZE_DEFAULT);
    this.retry = checkRetryPolicy(options.retry ?? RETRY_DEFAULT);
    this.collections = new Set(options.projection.collections);
    this.current = { projection: this.projection.name, state: "idle", consecutiveFailures: 0, lastError: undefined, checkpoint: undefined, since: new Date() };
  }

  /** Runs until stop() (resolves) or a failure that is not transient (rejects with it, state `failed`). */
  start(): Promise<void> {
    return this.exclusive(() => this.drain({ untilCaughtUp: false }));
  }

  /** Applies batches until one reaches the head of the log; for tests, tools and a first catch-up. */
  runUntilCaughtUp(): Promise<void> {
    return this.exclusive(() => this.drain({ untilCaughtUp: true }));
  }

  /** Asks the worker to stop; resolves once the batch in flight (if any) is done. A stopped worker stays stopped. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running?.catch(() => undefined);
  }

  get status(): DocumentWorkerStatus {
    return this.current;
  }

  /** True once this worker's checkpoint is at or past `position` (this process's worker only), false after `timeoutMs`. */
  waitForPosition(position: Position, timeoutMs: number): Promise<boolean> {
    return this.waiters.wait(position, timeoutMs, this.projection.name);
  }

  private enter(state: DocumentWorkerState, changes: Partial<Pick<DocumentWorkerStatus, "consecutiveFailures" | "lastError">> = {}): void {
    const since = state === this.current.state ? this.current.since : new Date();
    this.current = { ...this.current, ...changes, state, since, checkpoint: this.after };
  }

  private exclusive(run: () => Promise<void>): Promise<void> {
    if (this.running !== undefined) return Promise.reject(new Error(`document projection worker ${this.projection.name} is already running`));
    const running = run().finally(() => {
      this.running = undefined;
      if (this.current.state !== "failed") this.enter("stopped");
    });
    this.running = running;
    return running;
  }

  private async drain(options: { readonly untilCaughtUp: boolean }): Promise<void> {
    let failures = 0;
    this.enter("running", { consecutiveFailures: 0, lastError: undefined });
    while (!this.stopping.signal.aborted) {
      let caughtUp: boolean;
      try {
        if (!this.opened) await this.open();
        caughtUp = await this.step();
        failures = 0;
        if (this.current.state === "retrying") this.enter("running", { consecutiveFailures: 0, lastError: undefined });
      } catch (error) {
        if (!retryable(error)) {
          this.enter("failed", { lastError: errorText(error) });
          throw error;
        }
        // No bound on the attempts: an outage lasts as long as it lasts; the backoff is capped and status() says so.
        failures += 1;
        this.enter("retrying", { consecutiveFailures: failures, lastError: errorText(error) });
        await this.sleep(backoffDelayMs(this.retry, failures));
        continue;
      }
      if (caughtUp && options.untilCaughtUp) return;
      if (caughtUp) await this.waitForEvents();
    }
  }

  private async open(): Promise<void> {
    this.after = await this.sink.readCheckpoint(this.projection.name);
    this.opened = true;
    this.committed(this.after);
  }

  /**
   * One batch; true when it reached the head. The head is read first, so
   * every event up to it is visible to the read that follows, and the
   * checkpoint may move to it past events the filter leaves out (lag 0,
   * waitForPosition answers for any position).
   */
  private async step(): Promise<boolean> {
    const after = this.after;
    const head = await this.eventStore.headPosition();
    const events = await this.eventStore.readAll({ after, filter: this.projection.filter, maxCount: this.batchSizeMax });
    checkOrder(after, events);
    if (events.length === 0) {
      const to = maxPosition(after, head);
      if (to === undefined || to === after) return true;
      await this.sink.applyBatch(this.projection.name, [], to);
      this.committed(to);
      return true;
    }
    // A batch whose changes exceed the sink's bounds is cut in half (again and again, down to one event).
    // Nothing was written by the refused call; the events left over are read again by the next step.
    for (let count = events.length; ; count = Math.ceil(count / 2)) {
      const slice = count === events.length ? events : events.slice(0, count);
      const caughtUp = count === events.length && events.length < this.batchSizeMax;
      const last = slice[slice.length - 1]?.position;
      assert.ok(last !== undefined);
      const to = caughtUp ? (maxPosition(last, head) ?? last) : last;
      const changes = this.plan(slice);
      try {
        await this.sink.applyBatch(this.projection.name, changes, to);
      } catch (error) {
        if (error instanceof DocumentBatchTooLargeError && count > 1) continue;
        throw error;
      }
      this.committed(to);
      return caughtUp;
    }
  }

  /** The projection's plan, checked: every change names one of the batch's events and one of the projection's collections. */
  private plan(events: readonly RecordedEvent[]): readonly DocumentChange[] {
    let changes: readonly DocumentChange[];
    try {
      changes = this.projection.plan(events);
    } catch (error) {
      if (error instanceof ProjectionEventError) throw error;
      throw new ProjectionFailedError({ projection: this.projection.name, events, cause: error });
    }
    const positions = new Set<string>(events.map((event) => event.position));
    for (const change of changes) {
      if (!positions.has(change.position) || !this.collections.has(change.collection)) {
        const cause = new Error(`the plan made a change to ${change.collection}/${change.id} at ${change.position}: not one of the batch's events or not one of the projection's collections`);
        throw new ProjectionFailedError({ projection: this.projection.name, events, cause });
      }
    }
    return changes;
  }

  private committed(to: Position | undefined): void {
    this.after = to;
    this.current = { ...this.current, checkpoint: to };
    this.waiters.advanced(to);
  }

  /** Until something is appended after the checkpoint, stop(), or the idle re-check is due. */
  private async waitForEvents(): Promise<void> {
    // A stop() that came while the last step ran has aborted already: an abort listener added now would never fire.
    if (this.stopping.signal.aborted) return;
    const wake = new AbortController();
    const onStop = (): void => {
      wake.abort();
    };
    this.stopping.signal.addEventListener("abort", onStop, { once: true });
    const recheck = setTimeout(onStop, DOCUMENT_WORKER_LIMITS.idleRecheckMs);
    try {
      await this.eventStore.waitForAppend(this.after, { signal: wake.signal });
    } catch (error) {
      if (!wake.signal.aborted) {
        this.enter(this.current.state, { lastError: errorText(error) });
        await this.sleep(DOCUMENT_WORKER_LIMITS.wakeErrorDelayMs);
      }
    } finally {
      clearTimeout(recheck);
      this.stopping.signal.removeEventListener("abort", onStop);
    }
  }

  /** A delay that stop() cuts short. */
  private async sleep(delayMs: number): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, delayMs);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/**
 * Callers waiting for this worker's checkpoint to reach a position. The
 * checkpoint only moves forward, so the highest one seen answers every
 * waiter at or below it; each costs a timer, not a query loop.
 */
class PositionWaiters {
  private readonly waiters = new Set<{ readonly position: Position; readonly settle: (reached: boolean) => void }>();
  private known: Position | undefined;

  advanced(position: Position | undefined): void {
    if (position === undefined || (this.known !== undefined && position <= this.known)) return;
    this.known = position;
    for (const waiter of this.waiters) if (waiter.position <= position) waiter.settle(true);
  }

  async wait(position: Position, timeoutMs: number, projection: string): Promise<boolean> {
    if (!(timeoutMs >= 0 && timeoutMs <= DOCUMENT_WORKER_LIMITS.waitTimeoutMaxMs)) throw new RangeError(`timeoutMs must be in 0..${DOCUMENT_WORKER_LIMITS.waitTimeoutMaxMs}`);
    if (this.known !== undefined && position <= this.known) return true;
    if (this.waiters.size >= DOCUMENT_WORKER_LIMITS.waitersMax) {
      throw new TrueupError("OVERLOADED", `${DOCUMENT_WORKER_LIMITS.waitersMax} reads already wait for projection ${projection} to catch up; retry`);
    }
    return new Promise<boolean>((resolve) => {
      const waiter = {
        position,
        settle: (reached: boolean): void => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        waiter.settle(false);
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

/** An outage of the sink (mapped by its adapter) or of the event store (StoreUnavailableError, pg errors). */
function retryable(error: unknown): boolean {
  return error instanceof TransientDocumentError || isTransient(error);
}

function checkOrder(after: Position | undefined, events: readonly RecordedEvent[]): void {
  let previous = after;
  for (const event of events) {
    assert.ok(previous === undefined || event.position > previous, `event store returned ${event.position} after ${String(previous)}`);
    previous = event.position;
  }
}

function maxPosition(a: Position | undefined, b: Position | undefined): Position | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
