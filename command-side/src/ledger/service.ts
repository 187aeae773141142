// Ledger command handlers: load the streams a decision needs, decide, append.
// No read model takes part in a decision: an entry to reverse is found in the
// log by its fixed event id (one entry id, one event), so a reversal works
// while the projection lags.
import assert from "node:assert/strict";
import { TrueupError, ledgerSchemaVersion, ledgerStream, parseLedgerEvent, periodOf, periodStream, reversalStream } from "@trueup/contracts";
import type { CreateLedgerBody, EventId, JournalLine, LedgerEvent, OpenAccountBody, PostJournalEntryBody, ReverseJournalEntryBody, StreamName } from "@trueup/contracts";
import type { AppendGuard, EventStore } from "@trueup/event-store";
import { deterministicUuid, derivedEntityId } from "../ids.ts";
import { StreamWriter } from "../stream-writer.ts";
import type { AtomicAppender, StreamModel, WriterLimits } from "../stream-writer.ts";
import type { Receipt } from "../receipt.ts";
import type { Decision } from "../decision.ts";
import { StaleDecisionError, envelopeOf, outcomeOf } from "../command.ts";
import type { CommandContext, CommandOutcome } from "../command.ts";
import * as decider from "./decider.ts";
import { readAccountBalance } from "./balance.ts";

export type { CommandContext, CommandOutcome } from "../command.ts";
export { ReceiptConflictError } from "../command.ts";

/** Builds a posting's receipt once its entry id and revision are known. */
export type EntryReceipt = (entry: { entryId: string; revision: bigint }) => Receipt;

/** A ledger's state and the revision it was read at. */
export interface LedgerSnapshot {
  readonly state: decider.LedgerState;
  /** Undefined for a ledger that does not exist. */
  readonly revision: bigint | undefined;
}

/** Times a posting is decided again after an account it uses was closed under it; one is enough unless closes keep coming. */
export const STALE_DECISION_RETRIES_MAX = 3;

/** Times an account close reads its balance again because a posting listed a new period meanwhile. */
export const CLOSE_BALANCE_RETRIES_MAX = 3;



export class LedgerCommandService {
  private readonly ledgers: StreamWriter<decider.LedgerState, LedgerEvent>;
  private readonly periods: StreamWriter<decider.PeriodState, LedgerEvent>;
  private readonly reversals: StreamWriter<decider.ReversalState, LedgerEvent>;

  constructor(
    private readonly store: EventStore,
    /**
     * Lets postings store their answers with their events, and hold their
     * accounts open until they commit. Without it (EventStoreDB), postEntry's
     * receipt is ignored, and a close can overtake a posting already decided.
     */
    private readonly atomic?: AtomicAppender,
    /** The stream writers' limits; WRITER_LIMITS unless given. */
    options: { readonly writerLimits?: Partial<WriterLimits> | undefined } = {},
  ) {
    const limits = options.writerLimits;
    this.ledgers = new StreamWriter({ store, model: ledgerModel(decider.initialLedgerState, decider.evolveLedger), limits });
    this.periods = new StreamWriter({ store, model: ledgerModel(decider.initialPeriodState, decider.evolvePeriod), atomic, limits });
    this.reversals = new StreamWriter({ store, model: ledgerModel(decider.initialReversalState, decider.evolveReversal), limits });
  }

  async createLedger(ctx: CommandContext, body: CreateLedgerBody): Promise<CommandOutcome> {
    const command: decider.LedgerCommand = { type: "CreateLedger", data: body };
    return this.write(this.ledgers, { stream: ledgerStream(body.ledgerId), ctx, decide: (s) => decider.decideLedger(command, s) });
  }

  async openAccount(ctx: CommandContext, ledgerId: string, body: OpenAccountBody): Promise<CommandOutcome> {
    const command: decider.LedgerCommand = { type: "OpenAccount", data: { code: body.code, name: body.name, type: body.type, currency: body.currency ?? null } };
    return this.write(this.ledgers, { stream: ledgerStream(ledgerId), ctx, decide: (s) => decider.decideLedger(command, s) });
  }

  /**
   * Closes an account whose balance, summed from the log, is zero in every
   * currency. Why a posting cannot slip past the balance:
   * - into a period not listed yet: its PeriodListed lands on the ledger
   *   stream first, so the close's append fails on its expected revision (or
   *   is decided after it) and finds a period its balance did not read: it
   *   reads the balance again (CLOSE_BALANCE_RETRIES_MAX);
   * - into a listed period, with PostgreSQL: the posting's append holds the
   *   ledger stream until it commits, and is refused (ACCOUNT_CLOSED) if the
   *   close landed since its read. So it is in the balance, or refused.
   * Residual window: a posting that commits after the close has read its
   * period and before the close's append lands (the append waits for it, but
   * the decision is made) is in the log before the close and not in its
   * balance; the window is one read of the ledger's periods. Closing it would
   * need the close to guard every period stream, which against the posting's
   * lock order (ledger, then period) could deadlock. With EventStoreDB there
   * are no guards: a posting decided before a close may also land after it.
   */
  async closeAccount(ctx: CommandContext, ledgerId: string, code: string): Promise<CommandOutcome> {
    for (let attempt = 0; ; attempt++) {
      const { state } = await this.ledgers.load(ledgerStream(ledgerId));
      const periods = state.status === "active" ? state.periods : new Set<string>();
      const balance = await readAccountBalance({ store: this.store, ledgerId, code, periods });
      const command: decider.LedgerCommand = { type: "CloseAccount", data: { code }, balance };
      try {
        return await this.write(this.ledgers, { stream: ledgerStream(ledgerId), ctx, decide: (s) => decider.decideLedger(command, s) });
      } catch (error) {
        if (!(error instanceof TrueupError && error.code === "CONCURRENCY_CONFLICT") || attempt >= CLOSE_BALANCE_RETRIES_MAX) throw error;
      }
    }
  }

  /** Whether postEntry can store a receipt with the entry's events. */
  get storesReceipts(): boolean {
    return this.atomic !== undefined;
  }

  /** Starts reading a ledger's accounts; pass the promise to postEntry to overlap it with other work. */
  loadLedger(ledgerId: string): Promise<LedgerSnapshot> {
    return this.ledgers.loadShared(ledgerStream(ledgerId));
  }

  async postEntry(
    ctx: CommandContext,
    ledgerId: string,
    body: PostJournalEntryBody,
    ledgerLoad: Promise<LedgerSnapshot> = this.loadLedger(ledgerId),
    receipt?: EntryReceipt,
  ): Promise<CommandOutcome & { entryId: string }> {
    const entryId = body.entryId ?? derivedEntityId("je", ctx.commandId);
    const ledger = await ledgerLoad;
    const data: decider.PostEntryData = {
      entryId,
      effectiveDate: body.effectiveDate,
      description: body.description,
      externalReference: body.externalReference ?? null,
      metadata: body.metadata ?? {},
      lines: body.lines,
      reverses: null,
    };
    const outcome = await this.post(ctx, ledgerId, data, ledger, receipt && ((revision) => receipt({ entryId, revision })));
    return { ...outcome, entryId };
  }

  /** `options.metadata`: more of the reversal's metadata (the reconciliation marks a write-off's reversal as its own, as it marked the write-off). */
  async reverseEntry(ctx: CommandContext, ledgerId: string, entryId: string, body: ReverseJournalEntryBody, options: { readonly metadata?: Readonly<Record<string, string>> } = {}): Promise<CommandOutcome & { entryId: string }> {
    const original = await this.readPostedEntry(ledgerId, entryId);
    if (original.reverses !== null) throw new TrueupError("ENTRY_IS_REVERSAL", `entry ${entryId} reverses ${original.reverses}; post a new entry instead`);
    const reversalEntryId = body.reversalEntryId ?? derivedEntityId("je", ctx.commandId);
    const claim = { ledgerId, entryId, reversalEntryId };
    const claimReversal: decider.ReversalCommand = { type: "ClaimReversal", data: claim, dates: { entry: original.effectiveDate, reversal: body.effectiveDate } };
    await this.write(this.reversals, { stream: reversalStream(ledgerId, entryId), ctx, decide: (s) => decider.decideReversal(claimReversal, s) });
    const ledger = await this.ledgers.loadShared(ledgerStream(ledgerId));
    const data: decider.PostEntryData = {
      entryId: reversalEntryId,
      effectiveDate: body.effectiveDate,
      description: body.description ?? `Reversal of ${entryId}: ${original.description}`,
      externalReference: original.externalReference,
      metadata: { ...options.metadata, reverses: entryId },
      lines: decider.reversedLines(original.lines),
      reverses: entryId,
    };
    try {
      return { ...(await this.post(ctx, ledgerId, data, ledger)), entryId: reversalEntryId };
    } catch (error) {
      if (error instanceof TrueupError) {
        const release = { ...claim, reason: error.code };
        await this.write(this.reversals, {
          stream: reversalStream(ledgerId, entryId),
          ctx: { ...ctx, commandId: `${ctx.commandId}:release` },
          decide: (s) => decider.decideReversal({ type: "ReleaseReversal", data: release }, s),
        });
      }
      throw error;
    }
  }

  async closePeriod(ctx: CommandContext, ledgerId: string, period: string): Promise<CommandOutcome> {
    const ledger = (await this.ledgers.load(ledgerStream(ledgerId))).state;
    const command: decider.PeriodCommand = { type: "ClosePeriod", data: { period }, ledger, now: ctx.occurredAt };
    return this.write(this.periods, { stream: periodStream(ledgerId, period), ctx, decide: (s) => decider.decidePeriod(command, s) });
  }

  async reopenPeriod(ctx: CommandContext, ledgerId: string, period: string, reason: string): Promise<CommandOutcome> {
    const ledger = (await this.ledgers.load(ledgerStream(ledgerId))).state;
    const command: decider.PeriodCommand = { type: "ReopenPeriod", data: { period, reason }, ledger };
    return this.write(this.periods, { stream: periodStream(ledgerId, period), ctx, decide: (s) => decider.decidePeriod(command, s) });
  }

  /**
   * Decides a posting against the ledger as read and appends it to its
   * period's stream. With an atomic appender, the append also guards the
   * entry's accounts: if one was closed after the ledger was read, nothing is
   * written, and the posting is decided again on the ledger read anew.
   */
  private async post(
    ctx: CommandContext,
    ledgerId: string,
    data: decider.PostEntryData,
    snapshot: LedgerSnapshot,
    receipt?: (revision: bigint) => Receipt,
  ): Promise<CommandOutcome> {
    const period = periodOf(data.effectiveDate);
    const stream = periodStream(ledgerId, period);
    // The entry's event id comes from the entry id: one entry id, one event, whatever the command.
    const entryEventId = entryEventIdOf(ledgerId, data.entryId);
    let ledger = snapshot;
    if (ledger.state.status === "active" && !ledger.state.periods.has(period)) {
      // The period's first posting lists it on the ledger stream first (see closeAccount); one id per period, so it lands once.
      // Decided once before, so a posting refused (unbalanced, unknown account, closed period) writes nothing at all.
      const dryRun = decider.decidePeriod({ type: "PostJournalEntry", data, ledger: ledger.state }, (await this.periods.load(stream)).state);
      if ("rejected" in dryRun) throw dryRun.rejected;
      const listed = deterministicUuid("period-listed", ledgerId, period);
      const list: decider.LedgerCommand = { type: "ListPeriod", data: { period } };
      await this.write(this.ledgers, { stream: ledgerStream(ledgerId), ctx, decide: (s) => decider.decideLedger(list, s), eventIdOf: () => listed });
    }
    for (let attempt = 0; ; attempt++) {
      const command: decider.PeriodCommand = { type: "PostJournalEntry", data, ledger: ledger.state };
      const guards: AppendGuard[] | undefined =
        this.atomic === undefined
          ? undefined
          : [{ stream: ledgerStream(ledgerId), afterRevision: ledger.revision ?? -1n, eventType: "AccountClosed", field: "code", values: [...new Set(data.lines.map((l) => l.accountCode))] }];
      try {
        return await this.write(this.periods, {
          stream,
          ctx,
          decide: (s) => decider.decidePeriod(command, s),
          eventIdOf: () => entryEventId,
          receipt,
          guards,
          duplicate: () => new TrueupError("ENTRY_ALREADY_EXISTS", `entry ${data.entryId} already exists in ledger ${ledgerId}`, { path: ["entryId"] }),
        });
      } catch (error) {
        if (!(error instanceof StaleDecisionError) || attempt >= STALE_DECISION_RETRIES_MAX) throw error;
        ledger = await this.ledgers.load(ledgerStream(ledgerId));
      }
    }
  }

  private async readPostedEntry(
    ledgerId: string,
    entryId: string,
  ): Promise<{ lines: JournalLine[]; effectiveDate: string; description: string; externalReference: string | null; reverses: string | null }> {
    const stored = await this.store.readEventById(entryEventIdOf(ledgerId, entryId));
    if (stored === undefined) throw new TrueupError("ENTRY_NOT_FOUND", `no entry ${entryId} in ledger ${ledgerId}`);
    const event = parseLedgerEvent(stored);
    // The id is derived from (ledger, entry): anything else under it is a broken invariant.
    assert.ok(event.type === "JournalEntryPosted" && event.data.entryId === entryId && event.data.ledgerId === ledgerId, `event ${stored.eventId} of entry ${ledgerId}/${entryId} holds ${stored.type} at ${stored.streamName}@${stored.revision}`);
    return event.data;
  }

  private async write<S>(writer: StreamWriter<S, LedgerEvent>, command: WriteCommand<S>): Promise<CommandOutcome> {
    const { stream, ctx, decide, eventIdOf, receipt, guards } = command;
    return outcomeOf(await writer.submit(stream, { commandId: ctx.commandId, decide, envelope: envelopeOf({ ctx, stream, eventIdOf, schemaVersionOf: ledgerSchemaVersion }), receipt, guards, duplicate: command.duplicate }));
  }
}

/** One command for one stream: what to decide, and how its events and answer are written. */
interface WriteCommand<S> {
  readonly stream: StreamName;
  readonly ctx: CommandContext;
  readonly decide: (state: S) => Decision<LedgerEvent>;
  /** Fixed event ids other than the command's own (an entry's id); by default ids come from the command id. */
  readonly eventIdOf?: ((event: LedgerEvent, index: number) => string) | undefined;
  readonly receipt?: ((revision: bigint) => Receipt) | undefined;
  readonly guards?: readonly AppendGuard[] | undefined;
  /** The refusal when the events' ids are another command's (see Submission.duplicate). */
  readonly duplicate?: ((eventIds: readonly string[]) => TrueupError) | undefined;
}

/** The one event id of a journal entry: posting it twice is recognised, and a reversal finds it by id. */
function entryEventIdOf(ledgerId: string, entryId: string): EventId {
  return deterministicUuid("entry", ledgerId, entryId);
}

function ledgerModel<S>(initial: () => S, evolve: (state: S, event: LedgerEvent) => S): StreamModel<S, LedgerEvent> {
  return { initial, evolve, parse: parseLedgerEvent };
}
