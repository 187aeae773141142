// The pure half of the case-file projection: every recon event becomes
// exactly one change to one document — a match's case file (collection
// match_cases, id = matchId) or a run's record (collection runs, id = runId).
// One change per event and document means every ordinal is 0: it follows
// from the event alone, whatever batch the event is planned in, so a replay
// cut at other batch boundaries presents the sink's guard the same marks.
//
// A document change can only `set` whole top-level fields: a change cannot
// read the document it updates. That decides the shape. An event carrying
// part of a fact sets only the fields of that part: the write-off's plan
// (amount, account, date) comes with the proposal and again, as carried
// out, with WriteOffRequested; its progress (status, entry, error) is three
// fields of their own, because WriteOffPosted names only the entry and
// WriteOffRefused only the error — setting a nested object there would wipe
// what an earlier batch wrote. The query assembles them into one writeOff.
//
// Amounts stay strings of digits (signed minor units) as in the events;
// numbers in a case file are counts and scores only.
//
// The projection reads the event types below and no others (its filter): a
// recon stream may come to hold other events (an exception's resolution, a
// period's sign-off) that are no match's story, and a new type must not
// stop the case files. A write-off may settle something that is not a match
// (its subject then is no match id): it is no case file's either.
import assert from "node:assert/strict";
import { matchIdSchema, parseReconciliationEvent } from "@trueup/contracts";
import type { JsonValue, ReconciliationEvent, ReconciliationEventType } from "@trueup/contracts";
import type { RecordedEvent } from "@trueup/event-store";
import type { DocumentBody, DocumentChange } from "../documents/port.ts";
import { ProjectionEventError, parseEach } from "../errors.ts";
import { AUTO_CONFIRMED_REASON } from "../matching/plan.ts";

export const CASES_COLLECTION = "match_cases";
export const RUNS_COLLECTION = "runs";
/**
 * History entries a case file keeps (the newest). A match's lifecycle is a
 * handful of events; the bound is for a log that holds more (repeated
 * write-off refusals), so a case file stays far below the sink's document
 * size limit: 200 entries of at most ~2.6 kB (a refusal's message) is ~0.5 MB.
 * Older entries are counted in `historyDropped` by the sink.
 */
export const CASE_HISTORY_KEEP_LAST = 200;

/** What the case files are made of: every event of a match's lifecycle and the runs' records. */
export const CASE_EVENT_TYPES = [
  "MatchProposed", "MatchConfirmed", "MatchRejected", "MatchUnmatched", "WriteOffRequested", "WriteOffPosted", "WriteOffRefused",
  "WriteOffReversalRequested", "WriteOffReversed", "WriteOffReversalRefused", "ReconciliationRunRecorded",
] as const satisfies readonly ReconciliationEventType[];

type Data<T extends ReconciliationEvent["type"]> = Extract<ReconciliationEvent, { type: T }>["data"];

/** One entry of a case file's history: what happened to the match, when, by whom and why. */
export interface CaseHistoryEntry {
  readonly type: string;
  readonly position: string;
  /** The event's recordedAt, ISO 8601. */
  readonly at: string;
  /** The event's metadata.actor: the clerk, or the system that acted. */
  readonly actor: string;
  readonly reason: string | null;
  /** Done by the system (a run's proposal or auto-confirmation, the write-off process), not a clerk's decision. */
  readonly automatic: boolean;
}

export function planCaseDocuments(events: readonly RecordedEvent[]): DocumentChange[] {
  const parsed = parseEach(events, parseReconciliationEvent);
  return parsed.flatMap((event, index) => {
    const recorded = events[index];
    assert.ok(recorded !== undefined);
    const change = changeOf(event, recorded);
    return change === undefined ? [] : [change];
  });
}

/** The event's one change, or undefined for a write-off whose subject is not a match. */
function changeOf(event: ReconciliationEvent, recorded: RecordedEvent): DocumentChange | undefined {
  const entry = (reason: string | null, automatic: boolean): CaseHistoryEntry => ({
    type: event.type, position: recorded.position, at: recorded.recordedAt.toISOString(), actor: recorded.metadata.actor, reason, automatic,
  });
  const matchChange = (matchId: string, set: DocumentBody, history: CaseHistoryEntry): DocumentChange => ({
    collection: CASES_COLLECTION,
    id: matchId,
    position: recorded.position,
    ordinal: 0,
    set,
    push: { history: { values: [{ ...history }], keepLast: CASE_HISTORY_KEEP_LAST } },
  });
  switch (event.type) {
    case "MatchProposed": {
      // A run's proposal is the system's; a clerk's manual match (no run) is the clerk's.
      const automatic = event.data.runId !== null;
      if (!event.data.autoConfirmed) return matchChange(event.data.matchId, proposalFields(event.data), entry(null, automatic));
      // Confirmed by the run with it, in the same event: one entry, whose reason says so (as the matching read model's).
      return matchChange(event.data.matchId, { ...proposalFields(event.data), status: "confirmed", automatic: true }, entry(AUTO_CONFIRMED_REASON, automatic));
    }
    case "MatchConfirmed": {
      const { matchId, bankAccountId, automatic } = event.data;
      return matchChange(matchId, { matchId, bankAccountId, status: "confirmed", automatic }, entry(null, automatic));
    }
    case "MatchRejected": {
      const { matchId, bankAccountId, reason } = event.data;
      return matchChange(matchId, { matchId, bankAccountId, status: "rejected" }, entry(reason, false));
    }
    case "MatchUnmatched": {
      const { matchId, bankAccountId, reason } = event.data;
      return matchChange(matchId, { matchId, bankAccountId, status: "unmatched" }, entry(reason, false));
    }
    case "WriteOffRequested": {
      const { matchId, bankAccountId, amountMinor, writeOffAccount, effectiveDate, entryId } = event.data;
      if (!isMatchId(matchId)) return undefined;
      return matchChange(
        matchId,
        { matchId, bankAccountId, writeOff: { amountMinor, account: writeOffAccount, date: effectiveDate }, writeOffStatus: "requested", writeOffEntryId: entryId, writeOffError: null },
        // Part of the confirmation it was appended with, whose own entry says whether that was automatic
        // (the matching read model records it the same way).
        entry(null, false),
      );
    }
    case "WriteOffPosted": {
      const { matchId, bankAccountId, entryId } = event.data;
      if (!isMatchId(matchId)) return undefined;
      return matchChange(matchId, { matchId, bankAccountId, writeOffStatus: "posted", writeOffEntryId: entryId, writeOffError: null }, entry(null, true));
    }
    case "WriteOffRefused": {
      const { matchId, bankAccountId, code, message } = event.data;
      if (!isMatchId(matchId)) return undefined;
      const error = `${code}: ${message}`;
      // The entry id stays as WriteOffRequested set it: the refused entry is the one a clerk looks for in the ledger.
      return matchChange(matchId, { matchId, bankAccountId, writeOffStatus: "refused", writeOffError: error }, entry(error, true));
    }
    case "WriteOffReversalRequested": {
      const { matchId, bankAccountId, reversalEntryId } = event.data;
      // Part of the unmatch it was appended with.
      return matchChange(matchId, { matchId, bankAccountId, writeOffStatus: "reversing", writeOffReversalEntryId: reversalEntryId, writeOffError: null }, entry(null, false));
    }
    case "WriteOffReversed": {
      const { matchId, bankAccountId, reversalEntryId } = event.data;
      return matchChange(matchId, { matchId, bankAccountId, writeOffStatus: "reversed", writeOffReversalEntryId: reversalEntryId, writeOffError: null }, entry(null, true));
    }
    case "WriteOffReversalRefused": {
      const { matchId, bankAccountId, code, message } = event.data;
      const error = `${code}: ${message}`;
      return matchChange(matchId, { matchId, bankAccountId, writeOffStatus: "reversal-refused", writeOffError: error }, entry(error, true));
    }
    case "ReconciliationRunRecorded":
      return { collection: RUNS_COLLECTION, id: event.data.runId, position: recorded.position, ordinal: 0, set: runFields(event.data, recorded) };
    default:
      // The filter delivers CASE_EVENT_TYPES only: another type here is a bug of the filter or of the store.
      throw new ProjectionEventError(recorded, new TypeError(`${event.type} is not one of the case files' events`));
  }
}

function isMatchId(subject: string): boolean {
  return matchIdSchema.safeParse(subject).success;
}

function proposalFields(data: Data<"MatchProposed">): DocumentBody {
  const { writeOff, residual } = data;
  return {
    matchId: data.matchId,
    bankAccountId: data.bankAccountId,
    runId: data.runId,
    kind: data.kind,
    status: "suggested",
    automatic: false,
    ruleId: data.ruleId,
    score: data.score,
    ambiguous: data.ambiguous,
    criteria: data.criteria.map((c): JsonValue => ({ criterion: c.criterion, grade: c.grade, points: c.points, reason: c.reason })),
    externalIds: [...data.externalIds],
    internalIds: [...data.internalIds],
    currency: data.currency,
    differenceMinor: data.differenceMinor,
    residual: residual === null ? null : { side: residual.side, itemId: residual.itemId, amountMinor: residual.amountMinor },
    writeOff: writeOff === null ? null : { amountMinor: writeOff.amountMinor, account: writeOff.ledgerAccount, date: writeOff.date },
    writeOffStatus: null,
    writeOffEntryId: null,
    writeOffReversalEntryId: null,
    writeOffError: null,
  };
}

function runFields(data: Data<"ReconciliationRunRecorded">, recorded: RecordedEvent): DocumentBody {
  return {
    runId: data.runId,
    bankAccountId: data.bankAccountId,
    window: { from: data.window.from, to: data.window.to },
    items: { external: data.items.external, internal: data.items.internal },
    proposals: { ...data.proposals },
    autoConfirmed: data.autoConfirmed,
    suggested: data.suggested,
    ambiguous: data.ambiguous,
    conflicts: data.conflicts,
    bounds: data.bounds.map((b): JsonValue => ({ bound: b.bound, times: b.times, detail: b.detail })),
    actor: recorded.metadata.actor,
    position: recorded.position,
    recordedAt: recorded.recordedAt.toISOString(),
  };
}
