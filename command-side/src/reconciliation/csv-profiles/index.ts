// CSV mapping profiles: saving one (routes.ts, service.ts) and reading one
// for an import, from the log (never a read model: an import right after a
// save must find the profile).
import assert from "node:assert/strict";
import { csvProfileSchema, csvProfileStream, parseReconciliationEvent } from "@trueup/contracts";
import type { CsvProfile } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import { StreamNotFoundError } from "@trueup/event-store";
import { BUILT_IN_CSV_PROFILES } from "../importers/csv/stripe.ts";

export { CsvProfileCommandService } from "./service.ts";
export { csvProfileCommandRoutes } from "./routes.ts";
export type { CsvProfileCommandRoutesDeps } from "./routes.ts";
export { BUILT_IN_CSV_PROFILES, STRIPE_PROFILE } from "../importers/csv/stripe.ts";

/**
 * The profile `profileId` of the ledger: a built-in one (`stripe`, any case)
 * or the one saved under that id, or undefined. A profile stream holds one
 * event, so this is one short read.
 */
export async function readCsvProfile(store: EventStore, ledgerId: string, profileId: string): Promise<CsvProfile | undefined> {
  const builtIn = BUILT_IN_CSV_PROFILES[profileId.toLowerCase()];
  if (builtIn !== undefined) return builtIn;
  let events;
  try {
    events = await store.readStream(csvProfileStream(ledgerId, profileId), { maxCount: 1 });
  } catch (error) {
    if (error instanceof StreamNotFoundError) return undefined;
    throw error;
  }
  const [first] = events;
  if (first === undefined) return undefined;
  const event = parseReconciliationEvent(first);
  assert.ok(event.type === "CsvProfileSaved", `${first.streamName} starts with ${event.type}`);
  // Saved as validated: one that no longer validates needs an upcaster, not a silent misreading.
  const parsed = csvProfileSchema.safeParse(event.data.profile);
  assert.ok(parsed.success, `${first.streamName}: the saved profile no longer validates: ${parsed.error?.message ?? ""}`);
  return parsed.data;
}
