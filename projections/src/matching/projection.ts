// The matching read model: matches with their explanations and status, the
// items of live matches, every decision with who made it and why, and the
// recorded runs. Reads the `recon` category only (match decisions and run
// records of every bank account).
import { RECONCILIATION_CATEGORIES } from "@trueup/contracts";
import type { PostgresProjection } from "../postgres/definition.ts";
import { planMatchingBatch } from "./plan.ts";
import type { MatchingBatchPlan } from "./plan.ts";
import { MATCHING_SCHEMA_NAME, matchingDdl } from "./schema.ts";
import { writeMatchingBatch } from "./write.ts";

export const matchingProjection: PostgresProjection<MatchingBatchPlan> = {
  name: "matching",
  version: 4,
  kind: "postgres",
  schemaName: MATCHING_SCHEMA_NAME,
  filter: { categories: [RECONCILIATION_CATEGORIES.recon] },
  ddl: matchingDdl,
  plan: planMatchingBatch,
  apply: writeMatchingBatch,
  // Skipping a decision would show an item open that is matched (a clerk
  // would match it twice by hand) or matched that is open: it stops, loudly,
  // until a fix and a retry.
  onUnprojectable: () => "stop",
};
