// Matching rules: setting them (routes.ts, service.ts) and reading the
// current version for a run, from the log (never a read model: a run right
// after a change must use it).
import assert from "node:assert/strict";
import { matchingRulesSchema, matchingRulesStream, parseReconciliationEvent } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import { StreamNotFoundError } from "@trueup/event-store";

export { MatchingRulesCommandService } from "./service.ts";
export { matchingRulesCommandRoutes } from "./routes.ts";
export type { MatchingRulesCommandRoutesDeps } from "./routes.ts";

export interface MatchingRulesVersion {
  readonly version: number;
  readonly rules: MatchingRules;
  /** The MatchingRulesSet's position in the log. */
  readonly position: string;
}

/** The bank account's current rules (its rules stream's last event), or undefined when none were set. One read of one event. */
export async function readMatchingRules(store: EventStore, bankAccountId: string): Promise<MatchingRulesVersion | undefined> {
  let events;
  try {
    events = await store.readStream(matchingRulesStream(bankAccountId), { direction: "backwards", maxCount: 1 });
  } catch (error) {
    if (error instanceof StreamNotFoundError) return undefined;
    throw error;
  }
  const [last] = events;
  if (last === undefined) return undefined;
  const event = parseReconciliationEvent(last);
  assert.ok(event.type === "MatchingRulesSet", `${last.streamName} holds a ${event.type}`);
  assert.ok(BigInt(event.data.version) === last.revision + 1n, `${last.streamName}@${last.revision} says version ${event.data.version}`);
  // Stored as validated: rules that no longer validate need an upcaster, not a silent misreading.
  const parsed = matchingRulesSchema.safeParse(event.data.rules);
  assert.ok(parsed.success, `${last.streamName}: the stored rules no longer validate: ${parsed.error?.message ?? ""}`);
  return { version: event.data.version, rules: parsed.data, position: last.position };
}
