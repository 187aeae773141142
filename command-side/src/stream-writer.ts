// Appends decisions to streams with optimistic concurrency, batching the
// commands that queue up for one stream into one append (group commit): the
// commands of a batch are decided one after the other against the evolving
// state, and the batch lands with the expected revision of the state they
// saw. A conflicting writer elsewhere costs a catch-up read and a retry.
// States are cached per stream (bounded), caught up before every batch.
//
// A command is written at most once per stream, whatever the event store:
// the writer remembers, for each stream it folds, which command wrote which
// events (their metadata's commandId). A submission whose command is already
// in the stream (a retry whose answer was lost, or the same key sent twice at
// once) is not decided again: it answers with its original revision, as a
// replay. This check is before the append, so it holds for a store that
// deduplicates event ids only at the same expected revision (EventStoreDB),
// and a retry is not refused by its own success (ACCOUNT_ALREADY_EXISTS for
// the account it opened). Cost: one map entry per command in each cached
// stream, bounded with the cache (cachedStreamsMax).
import assert from "node:assert/strict";
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
  /**
   * Parses a stored event of the stream through its context's upcasters, so the
   * decider only sees current shapes (throws on a type or shape the stream cannot hold).
   */
  readonly parse: (stored: Pick<RecordedEvent, "type" | "schemaVersion" | "data">) => E;
}

export interface Submission<S, E extends DomainEvent> {
  /** The command's id, as in its events' metadata: a stream holding events of it already has this command's effect. */
  readonly commandId: string;
  readonly decide: (state: S) => Decision<E>;
  /** Wraps the i-th decided event with its id and metadata. */
  readonly envelope: (event: E, index: number) => NewEvent;
  /** The command's answer, given the revision of its last event, to store with the events (see AtomicAppender). */
  readonly receipt?: ((revision: bigint) => Receipt) | undefined;
  /** What the decision read elsewhere must still hold when its events land (see AtomicAppender). */
  readonly guards?: readonly AppendGuard[] | undefined;
  /**
   * The refusal when the command's event ids belong to another command (e.g. an
   * entry id posted before). Without it, such a collision is a bug: ids derived
   * from the command id cannot collide with another command's.
   */
  readonly duplicate?: ((eventIds: readonly string[]) => TrueupError) | undefined;
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

export type WriterLimits = { readonly [K in keyof typeof WRITER_LIMITS]: number };

/** Where a command's last event in a stream is. */
interface Written {
  readonly revision: bigint;
  readonly position: string;
}

interface Cached<S> {
  state: S;
  /** Revision of the last event folded in; undefined for a stream with no events. */
  revision: bigint | undefined;
  /**
   * The commands whose events are folded in, by command id. Shared by the
   * copies of one stream's state and only ever added to with facts of the
   * log (events that are stored), so a copy behind its stream knows no less.
   */
  readonly commands: Map<string, Written>;
}

interface Pending<S, E extends DomainEvent> {
  readonly submission: Submission<S, E>;
  readonly resolve: (result: WriteResult) => void;
  readonly reject: (error: unknown) => void;
}


export class StreamWriter<S, E extends DomainEvent> {
  private readonly cache = new Map<string, Cached<S>>();
  private readonly queues = new Map<string, Pending<S, E>[]>();

  private readonly store: EventStore;
  private readonly model: StreamModel<S, E>;
  private readonly atomic: AtomicAppender | undefined;
  private readonly limits: WriterLimits;

  constructor(options: {
    /** WRITER_LIMITS unless given (tests reach a limit with a small one). */
    readonly limits?: Partial<WriterLimits> | undefined;
    readonly store: EventStore;
    readonly model: StreamModel<S, E>;
    /** Without one, receipts and guards are ignored, and written results say `recorded: false`. */
    readonly atomic?: AtomicAppender | undefined;
  }) {
    this.store = options.store;
    this.model = options.model;
    this.atomic = options.atomic;
    this.limits = { ...WRITER_LIMITS, ...options.limits };
  }

  submit(stream: StreamName, submission: Submission<S, E>): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(stream);
      if (queue !== undefined) {
        if (queue.length >= this.limits.queueLengthMax) {
          // 503 OVERLOADED (Retry-After): nothing was written, and a retryable answer is never stored under the key.
          reject(new TrueupError("OVERLOADED", `more than ${this.limits.queueLengthMax} commands waiting for ${stream}`));
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
    // A read that fails was started before this caller came (e.g. during an outage that has ended since):
    // its failure is not this caller's answer, which reads again itself, once.
    if (inFlight !== undefined) return inFlight.catch(() => this.load(stream));
    const loaded = this.load(stream).finally(() => this.loading.delete(stream));
    this.loading.set(stream, loaded);
    return loaded;
  }

  /** Current state of a stream, caught up with the store. */
  async load(stream: StreamName): Promise<Cached<S>> {
    // A copy: states are immutable, and concurrent loads must not fold the same events twice into one object.
    const cached = { ...(this.cache.get(stream) ?? { state: this.model.initial(), revision: undefined, commands: new Map<string, Written>() }) };
    for (;;) {
      const from = cached.revision === undefined ? 0n : cached.revision + 1n;
      const events = await this.readFrom(stream, from);
      for (const event of events) {
        cached.state = this.model.evolve(cached.state, this.model.parse(event));
        cached.revision = event.revision;
        cached.commands.set(event.metadata.commandId, { revision: event.revision, position: event.position });
      }
      if (events.length < this.limits.readPageSize) break;
    }
    this.remember(stream, cached);
    return cached;
  }

  private async readFrom(stream: StreamName, fromRevision: bigint): Promise<RecordedEvent[]> {
    try {
      return await this.store.readStream(stream, { fromRevision, maxCount: this.limits.readPageSize });
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
    if (this.cache.size > this.limits.cachedStreamsMax) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  private async drain(stream: StreamName): Promise<void> {
    const queue = this.queues.get(stream);
    while (queue !== undefined && queue.length > 0) {
      const batch = queue.splice(0, this.limits.batchSizeMax);
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
    for (let attempt = 0; attempt <= this.limits.conflictRetriesMax; attempt++) {
      // Optimistic: a cached state is trusted as the head; if another writer
      // moved the stream, the append fails on its expected revision and the
      // state is read again.
      let cached = this.cache.get(stream) ?? (await this.load(stream));
      let plan = this.plan(cached, batch);
      if (plan.events.length === 0) {
        // Nothing to append, so no expected revision will tell us the cached
        // state was stale: a refusal (MATCH_NOT_FOUND for a match another
        // process just proposed) must not rest on it. Catch up, and decide
        // again if the stream moved.
        const fresh = await this.load(stream);
        if (fresh.revision !== cached.revision) {
          cached = fresh;
          plan = this.plan(cached, batch);
        }
        if (plan.events.length === 0) {
          plan.settle(undefined);
          return;
        }
      }
      const expectedRevision = cached.revision ?? ("no-stream" as const);
      const atomic = this.atomic !== undefined && (plan.receipts.length > 0 || plan.guards.length > 0) ? this.atomic : undefined;
      try {
        const result =
          atomic === undefined
            ? await this.store.append(stream, plan.events, { expectedRevision })
            : await atomic.append(stream, plan.events, { expectedRevision, guards: plan.guards }, plan.receipts);
        plan.written(result);
        this.remember(stream, { state: plan.state, revision: result.nextExpectedRevision, commands: cached.commands });
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
    const conflict = new TrueupError("CONCURRENCY_CONFLICT", `${stream} kept changing; gave up after ${this.limits.conflictRetriesMax} retries`);
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
      const refusal = pending.submission.duplicate?.(error.eventIds);
      if (refusal === undefined) throw new Error(`${stream}: event ids of command ${pending.submission.commandId} already used by another command: ${error.eventIds.join(", ")}`, { cause: error });
      pending.resolve({ kind: "rejected", error: refusal });
    }
  }

  /**
   * Decides a batch's commands one after the other against the evolving
   * state. A command already in the stream, or earlier in this batch, is a
   * replay of it; one whose event ids an earlier command of the batch uses
   * is refused on its own (one insert cannot hold an id twice, and the whole
   * batch must not fail for it).
   */
  private plan(cached: Cached<S>, batch: Pending<S, E>[]) {
    let state = cached.state;
    let revision = cached.revision ?? -1n;
    const events: NewEvent[] = [];
    const receipts: Receipt[] = [];
    const guards: AppendGuard[] = [];
    const eventIds = new Set<string>();
    /** Commands of this batch with events, by command id: their last event's revision. */
    const planned = new Map<string, bigint>();
    const outcomes: Outcome[] = [];
    for (const { submission } of batch) {
      const known = cached.commands.get(submission.commandId);
      if (known !== undefined) {
        outcomes.push({ replay: known });
        continue;
      }
      const inBatch = planned.get(submission.commandId);
      if (inBatch !== undefined) {
        outcomes.push({ replayInBatch: inBatch });
        continue;
      }
      const decision = submission.decide(state);
      if ("rejected" in decision) {
        outcomes.push({ rejected: decision.rejected });
        continue;
      }
      const enveloped = decision.events.map((event, index) => submission.envelope(event, index));
      const taken = enveloped.filter((e) => eventIds.has(e.eventId)).map((e) => e.eventId);
      if (taken.length > 0) {
        const refusal = submission.duplicate?.(taken);
        outcomes.push(refusal === undefined ? { failed: new Error(`event ids of command ${submission.commandId} used twice in one batch: ${taken.join(", ")}`) } : { rejected: refusal });
        continue;
      }
      for (const event of decision.events) state = this.model.evolve(state, event);
      for (const e of enveloped) eventIds.add(e.eventId);
      events.push(...enveloped);
      revision += BigInt(decision.events.length);
      outcomes.push({ count: decision.events.length, revision });
      if (decision.events.length === 0) continue;
      planned.set(submission.commandId, revision);
      if (submission.receipt !== undefined) receipts.push(submission.receipt(revision));
      guards.push(...(submission.guards ?? []));
    }
    /** Once the batch is stored: its commands are in the stream. */
    const written = (result: AppendResult): void => {
      for (const [commandId, last] of planned) cached.commands.set(commandId, { revision: last, position: result.position });
    };
    const settle = (result: AppendResult | undefined, recorded = false): void => {
      batch.forEach((pending, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined) return;
        const settled = settlement(outcome, result, recorded && pending.submission.receipt !== undefined);
        if (settled instanceof Error) pending.reject(settled);
        else pending.resolve(settled);
      });
    };
    return { state, events, receipts, guards: mergeGuards(guards), written, settle };
  }
}

type Outcome =
  | { readonly count: number; readonly revision: bigint }
  | { readonly rejected: TrueupError }
  | { readonly failed: Error }
  | { readonly replay: Written }
  | { readonly replayInBatch: bigint };

/** What a planned command comes to once its batch is written (`result`) or had nothing to write. */
function settlement(outcome: Outcome, result: AppendResult | undefined, recorded: boolean): WriteResult | Error {
  if ("rejected" in outcome) return { kind: "rejected", error: outcome.rejected };
  if ("failed" in outcome) return outcome.failed;
  if ("replay" in outcome) return { kind: "written", revision: outcome.replay.revision, position: outcome.replay.position, replayed: true, recorded: false };
  if ("replayInBatch" in outcome) {
    assert.ok(result !== undefined, "a command replayed in its batch follows one that wrote events");
    return { kind: "written", revision: outcome.replayInBatch, position: result.position, replayed: true, recorded: false };
  }
  if (outcome.count === 0 || result === undefined) return { kind: "unchanged", revision: outcome.revision < 0n ? undefined : outcome.revision };
  return { kind: "written", revision: outcome.revision, position: result.position, replayed: result.replayed, recorded };
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
