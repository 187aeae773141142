// Saving a CSV profile: decided from the log (the ledger's stream says the
// ledger exists; the profile's own stream says the id is free) and appended
// to the profile's stream. Two saves of one id at once: the stream writer
// serializes them on the stream's expected revision, so one lands and the
// other is CSV_PROFILE_ALREADY_EXISTS; a retry with the same key replays.
import { csvProfileStream, ledgerStream, parseLedgerEvent, reconciliationSchemaVersion } from "@trueup/contracts";
import type { CsvProfile, LedgerEvent, SaveCsvProfileBody } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import { StreamWriter } from "../../stream-writer.ts";
import type { WriterLimits } from "../../stream-writer.ts";
import { envelopeOf, outcomeOf } from "../../command.ts";
import type { CommandContext, CommandOutcome } from "../../command.ts";
import { derivedEntityId } from "../../ids.ts";
import * as ledgerDecider from "../../ledger/decider.ts";
import * as decider from "./decider.ts";

export class CsvProfileCommandService {
  private readonly profiles: StreamWriter<decider.CsvProfileState, decider.CsvProfileEvent>;
  private readonly ledgers: StreamWriter<ledgerDecider.LedgerState, LedgerEvent>;

  constructor(options: { readonly store: EventStore; readonly writerLimits?: Partial<WriterLimits> | undefined }) {
    const { store, writerLimits: limits } = options;
    this.profiles = new StreamWriter({ store, limits, model: { initial: decider.initialCsvProfileState, evolve: decider.evolveCsvProfile, parse: decider.parseCsvProfileEvent } });
    this.ledgers = new StreamWriter({ store, limits, model: { initial: ledgerDecider.initialLedgerState, evolve: ledgerDecider.evolveLedger, parse: parseLedgerEvent } });
  }

  async save(ctx: CommandContext, ledgerId: string, body: SaveCsvProfileBody): Promise<CommandOutcome & { profileId: string }> {
    // From the command id, so a retry with the same key names the same profile.
    const { profileId: chosen, ...profile } = body;
    const profileId = chosen ?? derivedEntityId("csv", ctx.commandId);
    // A ledger is never deleted: once its LedgerCreated is read, it exists for this decision and every later one.
    const ledger = await this.ledgers.loadShared(ledgerStream(ledgerId));
    const command: decider.SaveCsvProfile = { type: "SaveCsvProfile", data: { ledgerId, profileId, profile: profile satisfies CsvProfile }, ledgerExists: ledger.state.status === "active" };
    const stream = csvProfileStream(ledgerId, profileId);
    const result = await this.profiles.submit(stream, {
      commandId: ctx.commandId,
      decide: (state) => decider.decideCsvProfile(command, state),
      envelope: envelopeOf({ ctx, stream, schemaVersionOf: reconciliationSchemaVersion }),
    });
    return { ...outcomeOf(result), profileId };
  }
}
