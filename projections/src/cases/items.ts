// The item case files: one document per bank-account item (a statement
// line or a ledger line) that a run left open or a clerk's decision opened
// again or settled — collection item_cases, its id itemCaseId(...). What
// the matches' case files cannot say of an open item:
// - `nearMisses`: the last run's closest candidates and why each failed
//   (NearMissesRecorded; a later run's replace them, whole);
// - `history`: the decisions that touched it — a match of it rejected or
//   unmatched (MatchRejected, MatchUnmatched carry their items), its
//   exception resolved (ItemResolved) or handed to someone
//   (ExceptionReassigned, whose exception id names the item);
// - `resolution`: how an exception settled it, if one did.
// Whether the item is in a live match now is the matching read model's
// answer (match_items), which the query adds: no event here has to be
// planned for every proposal of a run.
//
// A change cannot read its document (documents/port.ts), so each sets only
// what its event knows. Several changes of one event to one document (an
// event naming an item twice) take ordinals 0, 1, … in the event's order:
// they follow from the event alone. MatchRejected and MatchUnmatched
// recorded before they carried their items change no item case file.
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { parseExceptionId, parseReconciliationEvent } from "@trueup/contracts";
import type { JsonValue, ReconciliationEvent, ReconciliationEventType } from "@trueup/contracts";
import type { RecordedEvent } from "@trueup/event-store";
import type { DocumentBody, DocumentChange } from "../documents/port.ts";
import { ProjectionEventError, parseEach } from "../errors.ts";

export const ITEM_CASES_COLLECTION = "item_cases";
/** Decisions an item case file keeps (the newest); older ones are counted in `historyDropped`. */
export const ITEM_CASE_HISTORY_KEEP_LAST = 100;

export const ITEM_CASE_EVENT_TYPES = ["NearMissesRecorded", "MatchRejected", "MatchUnmatched", "ItemResolved", "ExceptionReassigned"] as const satisfies readonly ReconciliationEventType[];

export type ItemSide = "external" | "internal";

/**
 * The document id of an item's case file: a digest, because an item id
 * (up to 200 characters) with its account's is longer than a document id
 * may be, and may hold characters a key should not.
 */
export function itemCaseId(bankAccountId: string, side: ItemSide, itemId: string): string {
  return createHash("sha256").update(`${bankAccountId}\u0000${side}\u0000${itemId}`).digest("hex");
}

/** One decision in an item's case file. */
export interface ItemHistoryEntry {
  readonly type: string;
  readonly position: string;
  readonly at: string;
  readonly actor: string;
  readonly reason: string | null;
  /** The match rejected or unmatched; null for an exception's decision. */
  readonly matchId: string | null;
  /** The exception resolved or reassigned; null for a match's decision. */
  readonly exceptionId: string | null;
  /** A reassignment's new assignee; a resolution's kind (write-off, ignore). */
  readonly detail: string | null;
}

interface ItemRef {
  readonly bankAccountId: string;
  readonly side: ItemSide;
  readonly itemId: string;
}

export function planItemCaseDocuments(events: readonly RecordedEvent[]): DocumentChange[] {
  const parsed = parseEach(events, parseReconciliationEvent);
  return parsed.flatMap((event, index) => {
    const recorded = events[index];
    assert.ok(recorded !== undefined);
    return changesOf(event, recorded);
  });
}

function changesOf(event: ReconciliationEvent, recorded: RecordedEvent): DocumentChange[] {
  const ordinals = new Map<string, number>();
  const change = (item: ItemRef, set: DocumentBody, history?: Omit<ItemHistoryEntry, "type" | "position" | "at" | "actor">): DocumentChange => {
    const id = itemCaseId(item.bankAccountId, item.side, item.itemId);
    const ordinal = ordinals.get(id) ?? 0;
    ordinals.set(id, ordinal + 1);
    const entry: ItemHistoryEntry | undefined =
      history === undefined ? undefined : { type: event.type, position: recorded.position, at: recorded.recordedAt.toISOString(), actor: recorded.metadata.actor, ...history };
    return {
      collection: ITEM_CASES_COLLECTION,
      id,
      position: recorded.position,
      ordinal,
      set: { bankAccountId: item.bankAccountId, side: item.side, itemId: item.itemId, ...set },
      ...(entry === undefined ? {} : { push: { history: { values: [{ ...entry }], keepLast: ITEM_CASE_HISTORY_KEEP_LAST } } }),
    };
  };
  switch (event.type) {
    case "NearMissesRecorded": {
      const { bankAccountId, runId, items } = event.data;
      return items.map((item) =>
        change(
          { bankAccountId, side: item.side, itemId: item.itemId },
          {
            nearMisses: {
              runId,
              position: recorded.position,
              at: recorded.recordedAt.toISOString(),
              candidates: item.candidates.map((c): JsonValue => ({ itemIds: [...c.itemIds], score: c.score, failures: [...c.failures] })),
            },
          },
        ),
      );
    }
    case "MatchRejected":
    case "MatchUnmatched": {
      const { bankAccountId, matchId, reason, externalIds, internalIds } = event.data;
      const items: ItemRef[] = [
        ...externalIds.map((itemId) => ({ bankAccountId, side: "external" as const, itemId })),
        ...internalIds.map((itemId) => ({ bankAccountId, side: "internal" as const, itemId })),
      ];
      return items.map((item) => change(item, {}, { reason, matchId, exceptionId: null, detail: null }));
    }
    case "ItemResolved": {
      const { bankAccountId, exceptionId, kind, side, itemId, resolution, reason, writeOff } = event.data;
      return [
        change(
          { bankAccountId, side, itemId },
          {
            resolution: {
              exceptionId, kind, resolution, reason,
              writeOff: writeOff === null ? null : { amountMinor: writeOff.amountMinor, account: writeOff.ledgerAccount, date: writeOff.date },
              position: recorded.position,
              at: recorded.recordedAt.toISOString(),
              actor: recorded.metadata.actor,
            },
          },
          { reason, matchId: null, exceptionId, detail: resolution },
        ),
      ];
    }
    case "ExceptionReassigned": {
      const { bankAccountId, exceptionId, assignee, reason } = event.data;
      const subject = parseExceptionId(exceptionId);
      // The command side only reassigns exceptions it listed, whose ids name their item.
      if (subject === undefined) throw new ProjectionEventError(recorded, new TypeError(`exception id ${exceptionId} names no item`));
      return [change({ bankAccountId, side: subject.side, itemId: subject.itemId }, {}, { reason, matchId: null, exceptionId, detail: assignee })];
    }
    default:
      throw new ProjectionEventError(recorded, new TypeError(`${event.type} is not one of the item case files' events`));
  }
}
