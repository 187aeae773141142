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
