// The case files of reconciliation: one document per match with its
// explanation (score, criteria and their reasons, items, difference), where
// its write-off stands, and its bounded history of every event with who
// acted and why; one document per recorded run. Written through the document
// sink (MongoDB when configured, else PostgreSQL JSONB) by the document
// worker. Reads the `recon` category only, and there the events of a match's
// lifecycle and the run records (CASE_EVENT_TYPES) of every bank account.
import { RECONCILIATION_CATEGORIES } from "@trueup/contracts";
import type { DocumentProjection } from "../documents/worker.ts";
import { CASES_COLLECTION, CASE_EVENT_TYPES, RUNS_COLLECTION, planCaseDocuments } from "./plan.ts";
import { ITEM_CASES_COLLECTION, ITEM_CASE_EVENT_TYPES, planItemCaseDocuments } from "./items.ts";

export const casesProjection: DocumentProjection = {
  name: "cases",
  version: 1,
  kind: "document",
  collections: [CASES_COLLECTION, RUNS_COLLECTION],
  filter: { categories: [RECONCILIATION_CATEGORIES.recon], eventTypes: CASE_EVENT_TYPES },
  plan: planCaseDocuments,
  // The document worker parks nothing yet (worker.ts: no dead letters); said here for when it does: a case file
  // missing an event would tell a clerk or an auditor a wrong story, so it stops.
  onUnprojectable: () => "stop",
};

/**
 * The item case files (items.ts): per open or reopened item, the last run's
 * near misses and the decisions that touched it. Its own projection, with its
 * own checkpoint, so it catches up on a log written before it existed, and a
 * run's near misses never hold up the matches' case files.
 */
export const itemCasesProjection: DocumentProjection = {
  name: "item-cases",
  version: 1,
  kind: "document",
  collections: [ITEM_CASES_COLLECTION],
  filter: { categories: [RECONCILIATION_CATEGORIES.recon, RECONCILIATION_CATEGORIES.nearMisses], eventTypes: ITEM_CASE_EVENT_TYPES },
  plan: planItemCaseDocuments,
  // As the matches' case files: a decision missing from an item's story would mislead whoever reads it.
  onUnprojectable: () => "stop",
};
