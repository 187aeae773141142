// The pure half of the matching projection: folds a batch of recon events,
// in log order, into what the SQL half writes. A match proposed and decided
// inside one batch is inserted once with its final status; a match already
// in the read model gets one status change, its last in the batch. Items are
// inserted for new live matches, updated when a match is confirmed, and
// deleted when it dies (rejected, unmatched), so an item freed and taken
// again in the same batch ends in its new match (deletes run before inserts).
import assert from "node:assert/strict";
import { parseReconciliationEvent } from "@trueup/contracts";
import type { ReconciliationEvent } from "@trueup/contracts";
import type { RecordedEvent } from "@trueup/event-store";
import { parseEach } from "../errors.ts";

type Data<T extends ReconciliationEvent["type"]> = Extract<ReconciliationEvent, { type: T }>["data"];
export type MatchStatus = "suggested" | "confirmed" | "rejected" | "unmatched";

export interface Decided {
  readonly status: MatchStatus;
  readonly automatic: boolean;
  readonly position: string;
  readonly recordedAt: Date;
  readonly actor: string;
  readonly reason: string | null;
}

export interface NewMatch {
  readonly data: Data<"MatchProposed">;
  readonly position: string;
  readonly recordedAt: Date;
  readonly actor: string;
  /** Its last decision in the batch, if any. */
  decided: Decided | undefined;
}

export interface DecisionRow {
  readonly matchId: string;
  readonly position: string;
  readonly type: string;
  readonly actor: string;
  readonly automatic: boolean;
  readonly reason: string | null;
  readonly correlationId: string;
  readonly recordedAt: Date;
}

export interface RunRow extends Data<"ReconciliationRunRecorded"> {
  readonly actor: string;
  readonly position: string;
  readonly recordedAt: Date;
}

/** A match proposed in an earlier batch: its last decision in this one, and the status its first decision needed. */
export interface Change extends Decided {
  readonly fromStatus: MatchStatus;
}

/**
 * Where a match's write-off stands: requested with its confirmation, then
 * posted to the ledger or refused by it; once its match is unmatched,
 * reversing, then reversed or reversal-refused.
 */
export interface WriteOffState {
  readonly status: "requested" | "posted" | "refused" | "reversing" | "reversed" | "reversal-refused";
  readonly entryId: string | null;
  readonly reversalEntryId: string | null;
  readonly error: string | null;
}

export interface ResolutionRow {
  readonly data: Data<"ItemResolved">;
  readonly position: string;
  readonly recordedAt: Date;
  readonly actor: string;
}

export interface AssignmentRow extends Data<"ExceptionReassigned"> {
  readonly position: string;
  readonly recordedAt: Date;
  readonly actor: string;
}

export interface MatchingBatchPlan {
  /** Proposed in this batch, in log order. */
  readonly proposed: NewMatch[];
  readonly decided: Map<string, Change>;
  /** The last write-off state of each match in this batch (applied after the matches exist). */
  readonly writeOffs: Map<string, WriteOffState>;
  readonly decisions: DecisionRow[];
  readonly runs: RunRow[];
  /** Items resolved without a match, in log order. */
  readonly resolutions: ResolutionRow[];
  /** The last assignment of each exception in this batch. */
  readonly assignments: Map<string, AssignmentRow>;
  /** Periods signed off, with their statements. */
  readonly periods: PeriodRow[];
}

export interface PeriodRow extends Data<"ReconciliationPeriodClosed"> {
  readonly position: string;
  readonly recordedAt: Date;
  readonly actor: string;
}

/**
 * The reason an auto-confirmed proposal's decision and case-file entry give:
 * its confirmation is no event of its own (MatchProposed.autoConfirmed), so
 * the history's one entry for it says so.
 */
export const AUTO_CONFIRMED_REASON = "confirmed by the run: score at or above the account's auto-confirm threshold";

const LIVE: ReadonlySet<MatchStatus> = new Set(["suggested", "confirmed"]);
/** The status a decision needs its match in (the recon decider's lifecycle): confirm and reject a suggestion, unmatch a confirmation. */
const FROM_STATUS = { confirmed: "suggested", rejected: "suggested", unmatched: "confirmed" } as const;
export const isLive = (status: MatchStatus): boolean => LIVE.has(status);

export function planMatchingBatch(events: readonly RecordedEvent[]): MatchingBatchPlan {
  const parsed = parseEach(events, parseReconciliationEvent);
  const plan: MatchingBatchPlan = { proposed: [], decided: new Map(), writeOffs: new Map(), decisions: [], runs: [], resolutions: [], assignments: new Map(), periods: [] };
  const newInBatch = new Map<string, NewMatch>();
  parsed.forEach((event, index) => {
    const recorded = events[index];
    assert.ok(recorded !== undefined);
    const { position, recordedAt } = recorded;
    const { actor, correlationId } = recorded.metadata;
    const decide = (matchId: string, decided: Omit<Decided, "position" | "recordedAt" | "actor"> & { readonly status: keyof typeof FROM_STATUS }): void => {
      const full = { ...decided, position, recordedAt, actor };
      const fresh = newInBatch.get(matchId);
      if (fresh !== undefined) {
        const current = fresh.decided?.status ?? "suggested";
        assert.equal(current, FROM_STATUS[decided.status], `${event.type} of ${matchId} at ${position} needs it ${FROM_STATUS[decided.status]}, it is ${current}`);
        fresh.decided = full;
      }
      else plan.decided.set(matchId, { ...full, fromStatus: plan.decided.get(matchId)?.fromStatus ?? FROM_STATUS[decided.status] });
      plan.decisions.push({ matchId, position, type: event.type, actor, automatic: decided.automatic, reason: decided.reason, correlationId, recordedAt });
    };
    switch (event.type) {
      case "MatchProposed": {
        const { matchId, autoConfirmed } = event.data;
        const reason = autoConfirmed ? AUTO_CONFIRMED_REASON : null;
        // Confirmed with its proposal (one event): decided at the proposal's position.
        const decided: Decided | undefined = autoConfirmed ? { status: "confirmed", automatic: true, position, recordedAt, actor, reason } : undefined;
        const fresh: NewMatch = { data: event.data, position, recordedAt, actor, decided };
        newInBatch.set(matchId, fresh);
        plan.proposed.push(fresh);
        plan.decisions.push({ matchId, position, type: event.type, actor, automatic: event.data.runId !== null, reason, correlationId, recordedAt });
        return;
      }
      case "MatchConfirmed":
        decide(event.data.matchId, { status: "confirmed", automatic: event.data.automatic, reason: null });
        return;
      case "MatchRejected":
        decide(event.data.matchId, { status: "rejected", automatic: false, reason: event.data.reason });
        return;
      case "MatchUnmatched":
        decide(event.data.matchId, { status: "unmatched", automatic: false, reason: event.data.reason });
        return;
      case "ReconciliationRunRecorded":
        plan.runs.push({ ...event.data, actor, position, recordedAt });
        return;
      case "WriteOffRequested":
      case "WriteOffPosted":
      case "WriteOffRefused": {
        const { matchId } = event.data;
        const state: WriteOffState =
          event.type === "WriteOffRefused"
            ? { status: "refused", entryId: plan.writeOffs.get(matchId)?.entryId ?? null, reversalEntryId: null, error: `${event.data.code}: ${event.data.message}` }
            : { status: event.type === "WriteOffPosted" ? "posted" : "requested", entryId: event.data.entryId, reversalEntryId: null, error: null };
        plan.writeOffs.set(matchId, state);
        plan.decisions.push({ matchId, position, type: event.type, actor, automatic: event.type !== "WriteOffRequested", reason: state.error, correlationId, recordedAt });
        return;
      }
      case "WriteOffReversalRequested":
      case "WriteOffReversed":
      case "WriteOffReversalRefused": {
        const { matchId } = event.data;
        const before = plan.writeOffs.get(matchId);
        const state: WriteOffState =
          event.type === "WriteOffReversalRefused"
            ? { status: "reversal-refused", entryId: before?.entryId ?? null, reversalEntryId: before?.reversalEntryId ?? null, error: `${event.data.code}: ${event.data.message}` }
            : { status: event.type === "WriteOffReversed" ? "reversed" : "reversing", entryId: before?.entryId ?? null, reversalEntryId: event.data.reversalEntryId, error: null };
        plan.writeOffs.set(matchId, state);
        // The request is part of the unmatch it was appended with; the outcome is the process manager's.
        plan.decisions.push({ matchId, position, type: event.type, actor, automatic: event.type !== "WriteOffReversalRequested", reason: state.error, correlationId, recordedAt });
        return;
      }
      case "ItemResolved":
        plan.resolutions.push({ data: event.data, position, recordedAt, actor });
        plan.decisions.push({ matchId: event.data.exceptionId, position, type: event.type, actor, automatic: false, reason: event.data.reason, correlationId, recordedAt });
        return;
      case "ReconciliationPeriodClosed":
        plan.periods.push({ ...event.data, position, recordedAt, actor });
        return;
      case "ExceptionReassigned":
        plan.assignments.set(event.data.exceptionId, { ...event.data, position, recordedAt, actor });
        plan.decisions.push({ matchId: event.data.exceptionId, position, type: event.type, actor, automatic: false, reason: event.data.reason, correlationId, recordedAt });
        return;
      default:
        // The filter reads only recon streams, which hold nothing else.
        throw new TypeError(`${event.type} at ${position} is not a recon stream event`);
    }
  });
  return plan;
}
