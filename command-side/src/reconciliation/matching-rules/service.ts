// Setting a bank account's matching rules: decided from the log (the bank
// account's stream and its ledger's listing say it is active; the ledger's
// stream says the write-off account is open; the rules' own stream says
// which version they are at) and appended to the rules' stream at the
// revision read. Two changes at once: the stream writer decides the second
// again on the new version (so it becomes the next version, or is refused
// if it named the old one); a retry with the same key replays.
//
// The write-off account is checked when the rules are set, not guarded
// afterwards: an account closed later is refused when a write-off is posted
// (the ledger's own rule), not here.
import assert from "node:assert/strict";
import { ledgerStream, matchingRulesStream, parseLedgerEvent, reconciliationSchemaVersion } from "@trueup/contracts";
import type { LedgerEvent, SetMatchingRulesBody } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import { StreamWriter } from "../../stream-writer.ts";
import type { WriterLimits } from "../../stream-writer.ts";
import { envelopeOf, outcomeOf } from "../../command.ts";
import type { CommandContext, CommandOutcome } from "../../command.ts";
import * as ledgerDecider from "../../ledger/decider.ts";
import { readBankAccount } from "../bank-accounts/index.ts";
import * as decider from "./decider.ts";

export class MatchingRulesCommandService {
  private readonly rules: StreamWriter<decider.MatchingRulesState, decider.MatchingRulesEvent>;
  private readonly ledgers: StreamWriter<ledgerDecider.LedgerState, LedgerEvent>;

  constructor(private readonly options: { readonly store: EventStore; readonly writerLimits?: Partial<WriterLimits> | undefined }) {
    const { store, writerLimits: limits } = options;
    this.rules = new StreamWriter({ store, limits, model: { initial: decider.initialMatchingRulesState, evolve: decider.evolveMatchingRules, parse: decider.parseMatchingRulesEvent } });
    this.ledgers = new StreamWriter({ store, limits, model: { initial: ledgerDecider.initialLedgerState, evolve: ledgerDecider.evolveLedger, parse: parseLedgerEvent } });
  }

  /** A ledger's state from its stream: what a write-off account is checked against. */
  async ledger(ledgerId: string): Promise<ledgerDecider.LedgerState> {
    return (await this.ledgers.loadShared(ledgerStream(ledgerId))).state;
  }

  async set(ctx: CommandContext, bankAccountId: string, body: SetMatchingRulesBody): Promise<CommandOutcome & { version: number }> {
    const account = await readBankAccount(this.options.store, bankAccountId);
    const ledger = account === undefined ? ledgerDecider.initialLedgerState() : (await this.ledgers.loadShared(ledgerStream(account.ledgerId))).state;
    const command: decider.SetMatchingRules = { type: "SetMatchingRules", data: { bankAccountId, rules: body.rules, expectedVersion: body.expectedVersion }, account, ledger };
    const stream = matchingRulesStream(bankAccountId);
    const result = await this.rules.submit(stream, {
      commandId: ctx.commandId,
      decide: (state) => decider.decideMatchingRules(command, state),
      envelope: envelopeOf({ ctx, stream, schemaVersionOf: reconciliationSchemaVersion }),
    });
    const outcome = outcomeOf(result);
    // The version is the stream's revision plus one (one event per version), also for a replayed answer.
    assert.ok(outcome.revision !== undefined, "setting matching rules always ends at a revision");
    return { ...outcome, version: Number(outcome.revision) + 1 };
  }
}
