// Proves the CSV profile decider, given / when / then: a profile is saved
// once (a second save of the id is CSV_PROFILE_ALREADY_EXISTS), only into a
// ledger that exists, and as validated (defaults filled in, no undefined
// left in the JSON it stores); a stored event parses back to what decides.
import { describe, expect, it } from "vitest";
import { csvProfileSchema } from "@trueup/contracts";
import * as decider from "../../src/reconciliation/csv-profiles/decider.ts";

const profile = csvProfileSchema.parse({ name: "Bank A", currency: "EUR", columns: { bookingDate: "Date", amount: "Amount", valueDate: undefined } });
const save = (ledgerExists = true): decider.SaveCsvProfile => ({ type: "SaveCsvProfile", data: { ledgerId: "l1", profileId: "p1", profile }, ledgerExists });

function given(events: decider.CsvProfileEvent[]): decider.CsvProfileState {
  return events.reduce(decider.evolveCsvProfile, decider.initialCsvProfileState());
}

describe("the CSV profile decider", () => {
  it("saves a new profile with its defaults, as plain JSON", () => {
    const decision = decider.decideCsvProfile(save(), given([]));
    expect(decision).toEqual({
      events: [{ type: "CsvProfileSaved", data: { ledgerId: "l1", profileId: "p1", profile: JSON.parse(JSON.stringify(profile)) as unknown } }],
    });
    const [event] = "events" in decision ? decision.events : [];
    // What is stored reads back as the same profile.
    expect(event?.type === "CsvProfileSaved" && csvProfileSchema.parse(event.data.profile)).toEqual(profile);
  });

  it("refuses an id saved before", () => {
    const saved = decider.decideCsvProfile(save(), given([]));
    if (!("events" in saved)) throw new Error("rejected");
    const decision = decider.decideCsvProfile(save(), given(saved.events));
    expect("rejected" in decision && decision.rejected.code).toBe("CSV_PROFILE_ALREADY_EXISTS");
  });

  it("refuses a ledger that does not exist", () => {
    const decision = decider.decideCsvProfile(save(false), given([]));
    expect("rejected" in decision && decision.rejected.code).toBe("LEDGER_NOT_FOUND");
  });

  it("parses a stored CsvProfileSaved back, and passes over other events", () => {
    const decision = decider.decideCsvProfile(save(), given([]));
    const [decided] = "events" in decision ? decision.events : [];
    if (decided === undefined) throw new Error("rejected");
    // Stored as JSON and read back, as the event store does.
    const event = decider.parseCsvProfileEvent({ type: "CsvProfileSaved", schemaVersion: 1, data: decided.data });
    expect(event).toEqual(decided);
    expect(event.type).toBe("CsvProfileSaved");
    expect(decider.evolveCsvProfile(decider.initialCsvProfileState(), event)).toEqual({ status: "saved" });
    const other = decider.parseCsvProfileEvent({ type: "BankAccountListed", schemaVersion: 1, data: { ledgerId: "l1", bankAccountId: "b1", identifiers: ["X"] } });
    expect(decider.evolveCsvProfile(decider.initialCsvProfileState(), other)).toEqual({ status: "none" });
  });
});
