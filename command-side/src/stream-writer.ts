// Appends decisions to streams with optimistic concurrency, batching the
// commands that queue up for one stream into one append (group commit): the
// commands of a batch are decided one after the other against the evolving
// state, and the batch lands with the expected revision of the state they
// saw. A conflicting writer elsewhere costs a catch-up read and a retry.
// States are cached per stream (bounded), caught up before every batch.
import type { AppendGuard, AppendResult, EventStore, ExpectedRevision, NewEvent, RecordedEvent } from "@trueup/event-store";
import { DuplicateEventIdError, GuardFailedError, StreamNotFoundError, WrongExpectedRevisionError } from "@trueup/event-store";
import { TrueupError } from "@trueup/contracts";
import type { JsonValue, StreamName } from "@trueup/contracts";
import type { Decision } from "./decision.ts";
import type { Receipt } from "./receipt.ts";

/** What a decider's events have in common, whatever the bounded context. */
export interface DomainEvent {
  readonly type: string;
  readonly data: JsonValue;
}

/** How a stream's events fold into its state: a decider's initialState and evolve, and the parser of its stored events. */
export interface StreamModel<S, E extends DomainEvent> {
  readonly initial: () => S;
  readonly evolve: (state: S, event: E) => S;
  /** Parses a stored event of the stream (throws on a type or shape the stream cannot hold). */
  readonly parse: (type: string, data: unknown) => E;
}

export interface Submission<S, E extends DomainEvent> {
  readonly decide: (state: S) => Decision<E>;
  /** Wraps the i-th decided event with its id and metadata. */
  readonly envelope: (event: E, index: number) => NewEvent;
  /** The command's answer, given the revision of its last event, to store with the events (see AtomicAppender). */
  readonly receipt?: ((revision: bigint) => Receipt) | undefined;
  /** What the decision read elsewhere must still hold when its events land (see AtomicAppender). */
  readonly guards?: readonly AppendGuard[] | undefined;
}

/**
 * Appends events in one transaction with the receipts of the commands that
 * decided them and the guards of their decisions (a PostgreSQL store).
 * Without one, receipts and guards are not written or checked.
 */
export interface AtomicAppender {
  append(
    stream: StreamName,
    events: readonly NewEvent[],
    options: { expectedRevision: ExpectedRevision; guards: readonly AppendGuard[] },
    receipts: readonly Receipt[],
  ): Promise<AppendResult>;
  /** The append failed because a receipt's key is already taken: nothing was written. */
  isReceiptConflict(error: unknown): boolean;
}

export type WriteResult =
  | {
      readonly kind: "written";
      readonly revision: bigint;
      readonly position: string;
      readonly replayed: boolean;
      /** The submission's receipt was stored with the events. */
      readonly recorded: boolean;
    }
  /** The submission's receipt key was taken meanwhile; nothing was written for it. */
  | { readonly kind: "receipt-conflict" }
  /** A guard of the submission failed: what its decision read has changed. Nothing was written; decide again. */
  | { readonly kind: "stale" }
  | { readonly kind: "unchanged"; readonly revision: bigint | undefined }
  | { readonly kind: "rejected"; readonly error: TrueupError };

export const WRITER_LIMITS = {
  batchSizeMax: 256,
  /** Pending commands per stream; beyond it submit() fails fast instead of queueing without bound. */
  queueLengthMax: 10_000,
  conflictRetriesMax: 8,
  cachedStreamsMax: 10_000,
  readPageSize: 1_000,
} as const;

interface Cached<S> {
  state: S;
  /** Revision of the last event folded in; undefined for a stream with no events. */
  revision: bigint | undefined;
}

interface Pending<S, E extends DomainEvent> {
  readonly submission: Submission<S, E>;
  readonly resolve: (result: WriteResult) => void;
  readonly reject: (error: unknown) => void;
}

export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

export class StreamWriter<S, E extends DomainEvent> {
  private readonly cache = new Map<string, Cached<S>>();
  private readonly queues = new Map<string, Pending<S, E>[]>();

  private readonly store: EventStore;
  private readonly model: StreamModel<S, E>;
  private readonly atomic: AtomicAppender | undefined;

  constructor(options: {
    readonly store: EventStore;
    readonly model: StreamModel<S, E>;
    /** Without one, receipts and guards are ignored, and written results say `recorded: false`. */
    readonly atomic?: AtomicAppender | undefined;
  }) {
    this.store = options.store;
    this.model = options.model;
    this.atomic = options.atomic;
  }

  submit(stream: StreamName, submission: Submission<S, E>): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(stream);
      if (queue !== undefined) {
        if (queue.length >= WRITER_LIMITS.queueLengthMax) {
          reject(new QueueFullError(`more than ${WRITER_LIMITS.queueLengthMax} commands waiting for ${stream}`));
          return;
        }
        queue.push({ submission, resolve, reject });
        return;
      }
      this.queues.set(stream, [{ submission, resolve, reject }]);
      void this.drain(stream);
    });
  }

  private readonly loading = new Map<string, Promise<Cached<S>>>();

  /**
   * Like load(), but concurrent callers share one catch-up read. For state
   * that only informs another stream's decision (accounts for a posting).
   */
  loadShared(stream: StreamName): Promise<Cached<S>> {
    const inFlight = this.loading.get(stream);
    if (inFlight !== undefined) return inFlight;
    const loaded = this.load(stream).finally(() => this.loading.delete(stream));
    this.loading.set(stream, loaded);
    return loaded;
  }

  /** Current state of a stream, caught up with the store. */
  async load(stream: StreamName): Promise<Cached<S>> {
    // A copy: states are immutable, and concurrent loads must not fold the same events twice into one object.
    const cached = { ...(this.cache.get(stream) ?? { state: this.model.initial(), revision: undefined }) };
    for (;;) {
      const from = cached.revision === undefined ? 0n : cached.revision + 1n;
      const events = await this.readFrom(stream, from);
      for (const event of events) {
        cached.state = this.model.evolve(cached.state, this.model.parse(event.type, event.data));
        cached.revision = event.revision;
      }
      if (events.length < WRITER_LIMITS.readPageSize) break;
    }
    this.remember(stream, cached);
    return cached;
  }

  private async readFrom(stream: StreamName, fromRevision: bigint): Promise<RecordedEvent[]> {
    try {
      return await this.store.readStream(stream, { fromRevision, maxCount: WRITER_LIMITS.readPageSize });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  private remember(stream: string, cached: Cached<S>): void {
    const current = this.cache.get(stream)?.revision;
    if (current !== undefined && (cached.revision === undefined || cached.revision < current)) return;
    this.cache.delete(stream);
    this.cache.set(stream, cached);
    if (this.cache.size > WRITER_LIMITS.cachedStreamsMax) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  private async drain(stream: StreamName): Promise<void> {
    const queue = this.queues.get(stream);
    while (queue !== undefined && queue.length > 0) {
      const batch = queue.splice(0, WRITER_LIMITS.batchSizeMax);
      try {
        await this.writeBatch(stream, batch);
      } catch (error) {
        this.cache.delete(stream);
        for (const pending of batch) pending.reject(error);
      }
    }
    this.queues.delete(stream);
  }

  private async writeBatch(stream: StreamName, batch: Pending<S, E>[]): Promise<void> {
    for (let attempt = 0; attempt <= WRITER_LIMITS.conflictRetriesMax; attempt++) {
      // Optimistic: a cached state is trusted as the head; if another writer
      // moved the stream, the append fails on its expected revision and the
      // state is read again.
      const cached = this.cache.get(stream) ?? (await this.load(stream));
      const plan = this.plan(cached, batch);
      if (plan.events.length === 0) {
        plan.settle(undefined);
        return;
      }
      const expectedRevision = cached.revision ?? ("no-stream" as const);
      const atomic = this.atomic !== undefined && (plan.receipts.length > 0 || plan.guards.length > 0) ? this.atomic : undefined;
      try {
        const result =
          atomic === undefined
            ? await this.store.append(stream, plan.events, { expectedRevision })
            : await atomic.append(stream, plan.events, { expectedRevision, guards: plan.guards }, plan.receipts);
        this.remember(stream, { state: plan.state, revision: result.nextExpectedRevision });
        plan.settle(result, atomic !== undefined && !result.replayed);
        return;
      } catch (error) {
        this.cache.delete(stream);
        if (error instanceof WrongExpectedRevisionError) continue;
        const receiptConflict = atomic?.isReceiptConflict(error) === true;
        const stale = error instanceof GuardFailedError;
        if ((error instanceof DuplicateEventIdError || receiptConflict || stale) && batch.length > 1) {
          // Some command of the batch reuses ids, has a taken key or decided on stale reads; write them one by one to tell which.
          for (const pending of batch) await this.writeBatch(stream, [pending]).catch(pending.reject);
          return;
        }
        if (receiptConflict || stale) {
          for (const pending of batch) pending.resolve({ kind: stale ? "stale" : "receipt-conflict" });
          return;
        }
        if (error instanceof DuplicateEventIdError) {
          await this.settleDuplicate(stream, batch, plan.events);
          return;
        }
        throw error;
      }
    }
    const conflict = new TrueupError("CONCURRENCY_CONFLICT", `${stream} kept changing; gave up after ${WRITER_LIMITS.conflictRetriesMax} retries`);
    for (const pending of batch) pending.resolve({ kind: "rejected", error: conflict });
  }

  /**
   * One command's events collide with stored ids. If they are exactly the
   * stored events (a retry after a crash), the store answers with the
   * original result; an `any` append can only replay here, never write,
   * because the ids exist. Otherwise the id belongs to something else.
   */
  private async settleDuplicate(stream: StreamName, batch: Pending<S, E>[], events: NewEvent[]): Promise<void> {
    const [pending] = batch;
    if (pending === undefined) return;
    try {
      const result = await this.store.append(stream, events, { expectedRevision: "any" });
      pending.resolve({ kind: "written", revision: result.nextExpectedRevision, position: result.position, replayed: true, recorded: false });
    } catch (error) {
      if (!(error instanceof DuplicateEventIdError)) throw error;
      pending.resolve({ kind: "rejected", error: new TrueupError("ENTRY_ALREADY_EXISTS", `ids already used by another command: ${error.eventIds.join(", ")}`) });
    }
  }

  private plan(cached: Cached<S>, batch: Pending<S, E>[]) {
    let state = cached.state;
    let revision = cached.revision ?? -1n;
    const events: NewEvent[] = [];
    const receipts: Receipt[] = [];
    const guards: AppendGuard[] = [];
    const outcomes: ({ count: number; revision: bigint } | { rejected: TrueupError })[] = [];
    for (const pending of batch) {
      const decision = pending.submission.decide(state);
      if ("rejected" in decision) {
        outcomes.push({ rejected: decision.rejected });
        continue;
      }
      decision.events.forEach((event, index) => {
        state = this.model.evolve(state, event);
        events.push(pending.submission.envelope(event, index));
      });
      revision += BigInt(decision.events.length);
      outcomes.push({ count: decision.events.length, revision });
      const receipt = pending.submission.receipt;
      if (receipt !== undefined && decision.events.length > 0) receipts.push(receipt(revision));
      if (decision.events.length > 0) guards.push(...(pending.submission.guards ?? []));
    }
    const settle = (result: AppendResult | undefined, recorded = false): void => {
      batch.forEach((pending, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined) return;
        if ("rejected" in outcome) {
          pending.resolve({ kind: "rejected", error: outcome.rejected });
          return;
        }
        if (outcome.count === 0 || result === undefined) {
          pending.resolve({ kind: "unchanged", revision: outcome.revision < 0n ? undefined : outcome.revision });
          return;
        }
        pending.resolve({
          kind: "written",
          revision: outcome.revision,
          position: result.position,
          replayed: result.replayed,
          recorded: recorded && pending.submission.receipt !== undefined,
        });
      });
    };
    return { state, events, receipts, guards: mergeGuards(guards), settle };
  }
}

/**
 * One guard per stream, event type and field for a whole batch: the earliest
 * revision any of its decisions saw, and all their values. A batch of
 * postings to one ledger checks its accounts once, not once per posting
 * (appends to a stream run one after another: this check is on that path).
 */
function mergeGuards(guards: readonly AppendGuard[]): AppendGuard[] {
  const merged = new Map<string, { stream: AppendGuard["stream"]; afterRevision: bigint; eventType: string; field: string; values: Set<string> }>();
  for (const g of guards) {
    const key = `${g.stream}\u0000${g.eventType}\u0000${g.field}`;
    const known = merged.get(key);
    if (known === undefined) {
      merged.set(key, { stream: g.stream, afterRevision: g.afterRevision, eventType: g.eventType, field: g.field, values: new Set(g.values) });
      continue;
    }
    if (g.afterRevision < known.afterRevision) known.afterRevision = g.afterRevision;
    for (const v of g.values) known.values.add(v);
  }
  return [...merged.values()].map((g) => ({ ...g, values: [...g.values] }));
}
