// Saving a CSV mapping profile: one stream per profile,
// `csvprofile-<ledgerId>:<profileId>`, holding its one CsvProfileSaved. A
// profile is saved once (the stream's first event): saving it again is
// CSV_PROFILE_ALREADY_EXISTS, so an import that named a profile always read
// the mapping it names today. Pure: whether the ledger exists is read from
// the ledger's stream by the service and passed in.
import { TrueupError, jsonValueOf, parseReconciliationEvent } from "@trueup/contracts";
import type { CsvProfile, JsonValue } from "@trueup/contracts";
import type { Decision as GenericDecision } from "../../decision.ts";

/** CsvProfileSaved with its profile as the JSON it is stored as (the stream writer's events are JSON). */
export type CsvProfileEvent =
  | { readonly type: "CsvProfileSaved"; readonly data: { readonly ledgerId: string; readonly profileId: string; readonly profile: JsonValue } }
  | { readonly type: "Unrelated"; readonly data: { readonly type: string } };
export type Decision = GenericDecision<CsvProfileEvent>;

export type CsvProfileState = { readonly status: "none" } | { readonly status: "saved" };

export const initialCsvProfileState = (): CsvProfileState => ({ status: "none" });

export function evolveCsvProfile(state: CsvProfileState, event: CsvProfileEvent): CsvProfileState {
  return event.type === "CsvProfileSaved" ? { status: "saved" } : state;
}

export interface SaveCsvProfile {
  readonly type: "SaveCsvProfile";
  readonly data: { readonly ledgerId: string; readonly profileId: string; readonly profile: CsvProfile };
  /** The ledger's stream holds its LedgerCreated. */
  readonly ledgerExists: boolean;
}

export function decideCsvProfile(command: SaveCsvProfile, state: CsvProfileState): Decision {
  const { ledgerId, profileId, profile } = command.data;
  if (!command.ledgerExists) return { rejected: new TrueupError("LEDGER_NOT_FOUND", `no ledger ${ledgerId}`) };
  if (state.status === "saved") return { rejected: new TrueupError("CSV_PROFILE_ALREADY_EXISTS", `ledger ${ledgerId} has a CSV profile ${profileId}; save the new mapping under another id`, { path: ["profileId"] }) };
  // The profile as validated, defaults filled in: a later change of a default does not change a saved mapping.
  return { events: [{ type: "CsvProfileSaved", data: { ledgerId, profileId, profile: jsonValueOf(profile) } }] };
}

/** Parses a stored event of a profile stream (through the context's upcasters). */
export function parseCsvProfileEvent(stored: Parameters<typeof parseReconciliationEvent>[0]): CsvProfileEvent {
  const event = parseReconciliationEvent(stored);
  if (event.type !== "CsvProfileSaved") return { type: "Unrelated", data: { type: event.type } };
  return { type: "CsvProfileSaved", data: { ...event.data, profile: jsonValueOf(event.data.profile) } };
}
