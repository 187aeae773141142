// A run's near misses, recorded for the clerk: for each item the run left
// open, the candidates that came closest and why each failed (the engine's
// nearMisses). They go to the account's `nearmisses-` stream, never to the
// recon stream, whose every reader (the decider, each run) would otherwise
// load them; the item case files (projections/src/cases/items.ts) show them.
//
// Bounded three ways: items per run (RunLimits.nearMissItemsMax; the run's
// record names the cut as a bound), items per event (the contract's
// NEAR_MISS_ITEMS_PER_EVENT_MAX) and events per append. An engine reason
// longer than an event holds is cut with an ellipsis, never refused: near
// misses are advice, and a run's proposals must not fail on them.
import { createHash } from "node:crypto";
import {
  MATCH_REASON_LENGTH_MAX, NEAR_MISS_CANDIDATES_MAX, NEAR_MISS_FAILURES_MAX, NEAR_MISS_ITEMS_PER_EVENT_MAX, nearMissStream, reconciliationSchemaVersion,
} from "@trueup/contracts";
import type { ReconciliationEvent } from "@trueup/contracts";
import { DuplicateEventIdError } from "@trueup/event-store";
import type { EventStore, NewEvent } from "@trueup/event-store";
import { envelopeOf } from "../../command.ts";
import type { CommandContext } from "../../command.ts";
import { deterministicUuid } from "../../ids.ts";
import type { NearMiss } from "../matching/index.ts";

type NearMissesRecorded = Extract<ReconciliationEvent, { type: "NearMissesRecorded" }>;
type RecordedItem = NearMissesRecorded["data"]["items"][number];

/** Events per append to the near-miss stream: 20 × 100 items, a few MB at the most in one transaction. */
export const NEAR_MISS_EVENTS_PER_APPEND_MAX = 20;

/** What a run records of its near misses, and what it had to leave out. */
export interface NearMissRecording {
  readonly events: readonly NearMissesRecorded[];
  readonly items: number;
  /** Open items whose near misses were not recorded (over the run's limit). */
  readonly omitted: number;
}

function cut(text: string): string {
  return text.length <= MATCH_REASON_LENGTH_MAX ? text : `${text.slice(0, MATCH_REASON_LENGTH_MAX - 1)}…`;
}

function recordedItem(miss: NearMiss): RecordedItem {
  return {
    side: miss.side,
    itemId: miss.itemId,
    candidates: miss.candidates.slice(0, NEAR_MISS_CANDIDATES_MAX).map((candidate) => ({
      itemIds: [...candidate.itemIds],
      score: candidate.score,
      failures: candidate.failures.filter((failure) => failure.length > 0).slice(0, NEAR_MISS_FAILURES_MAX).map(cut),
    })),
  };
}

/** The events recording `misses` (the first `itemsMax` in the engine's order: external items, then internal), in batches. */
export function nearMissRecording(bankAccountId: string, runId: string, misses: readonly NearMiss[], itemsMax: number): NearMissRecording {
  const kept = misses.slice(0, Math.max(0, itemsMax));
  const events: NearMissesRecorded[] = [];
  for (let at = 0; at < kept.length; at += NEAR_MISS_ITEMS_PER_EVENT_MAX) {
    events.push({ type: "NearMissesRecorded", data: { bankAccountId, runId, items: kept.slice(at, at + NEAR_MISS_ITEMS_PER_EVENT_MAX).map(recordedItem) } });
  }
  return { events, items: kept.length, omitted: misses.length - kept.length };
}

/**
 * Appends the recording's events. Event ids follow from the command and the
 * content, so an attempt of the same run (the same command: a retry after an
 * outage, also one whose first append landed but whose answer was lost)
 * finds the batches it recorded before and writes them no second time —
 * the store refuses the ids (DuplicateEventIdError: same content, but the
 * metadata of another attempt), which here means "recorded". An attempt
 * that found other items open records its own near misses, which replace
 * the earlier ones item by item.
 */
export async function appendNearMisses(store: EventStore, ctx: CommandContext, bankAccountId: string, recording: NearMissRecording): Promise<void> {
  const stream = nearMissStream(bankAccountId);
  const digest = (event: NearMissesRecorded): string => createHash("sha256").update(JSON.stringify(event.data)).digest("hex");
  const envelope = envelopeOf<NearMissesRecorded>({
    ctx,
    stream,
    schemaVersionOf: reconciliationSchemaVersion,
    eventIdOf: (event) => deterministicUuid(ctx.commandId, stream, digest(event)),
  });
  for (let at = 0; at < recording.events.length; at += NEAR_MISS_EVENTS_PER_APPEND_MAX) {
    const batch: NewEvent[] = recording.events.slice(at, at + NEAR_MISS_EVENTS_PER_APPEND_MAX).map((event, index) => envelope(event, at + index));
    try {
      await store.append(stream, batch, { expectedRevision: "any" });
    } catch (error) {
      // An earlier attempt of this command recorded this batch; a batch repeating an event is a bug, not a retry.
      if (!(error instanceof DuplicateEventIdError) || error.repeatedInAppend) throw error;
    }
  }
}
