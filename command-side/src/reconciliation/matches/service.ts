// Match decisions written to the account's recon stream with the stream
// writer: each is decided against the stream's state at its expected
// revision, so concurrent decisions (a run's proposals, a manual match, a
// confirm, an unmatch) land one after the other, each decided on what the
// others left; a retry with the same command id is recognised, not written
// twice. The callers (runs and the match routes) bring what the decisions
// need beyond the stream: items with their amounts, the write-off limit.
import { reconStream, reconciliationSchemaVersion } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import { StreamWriter } from "../../stream-writer.ts";
import type { WriterLimits } from "../../stream-writer.ts";
import { envelopeOf, outcomeOf } from "../../command.ts";
import type { CommandContext, CommandOutcome } from "../../command.ts";
import type { Decision } from "../../decision.ts";
import * as decider from "./decider.ts";
import { decideClosePeriod } from "../periods/decider.ts";
import type { ClosePeriod } from "../periods/decider.ts";

export class MatchCommandService {
  private readonly writer: StreamWriter<decider.ReconState, decider.MatchEvent>;

  constructor(options: { readonly store: EventStore; readonly writerLimits?: Partial<WriterLimits> | undefined }) {
    this.writer = new StreamWriter({ store: options.store, limits: options.writerLimits, model: { initial: decider.initialReconState, evolve: decider.evolveRecon, parse: decider.parseMatchEvent } });
  }

  /** A run's proposals; the answer says how many landed (the others had an item taken meanwhile). */
  async propose(ctx: CommandContext, command: decider.ProposeMatches): Promise<CommandOutcome & { readonly proposed: number; readonly confirmed: number }> {
    let proposed = 0;
    let confirmed = 0;
    const outcome = await this.submit(ctx, command.data.bankAccountId, (state) => {
      const decision = decider.decideProposals(command, state);
      // Decided again on a conflict: the counts are the last decision's, the one that landed.
      const events = "events" in decision ? decision.events : [];
      proposed = events.filter((event) => event.type === "MatchProposed").length;
      confirmed = events.filter((event) => (event.type === "MatchProposed" && event.data.autoConfirmed) || event.type === "MatchConfirmed").length;
      return decision;
    });
    // A replay was not decided here: what it wrote is not counted again.
    return { ...outcome, proposed: outcome.replayed ? 0 : proposed, confirmed: outcome.replayed ? 0 : confirmed };
  }

  decide(ctx: CommandContext, command: decider.MatchDecisionCommand): Promise<CommandOutcome> {
    return this.submit(ctx, command.data.bankAccountId, (state) => decider.decideMatchDecision(command, state));
  }

  manualMatch(ctx: CommandContext, command: decider.ManualMatch): Promise<CommandOutcome> {
    return this.submit(ctx, command.data.bankAccountId, (state) => decider.decideManualMatch(command, state));
  }

  recordRun(ctx: CommandContext, command: decider.RecordRun): Promise<CommandOutcome> {
    return this.submit(ctx, command.data.bankAccountId, () => decider.decideRecordRun(command));
  }

  recordWriteOff(ctx: CommandContext, command: decider.RecordWriteOff): Promise<CommandOutcome> {
    return this.submit(ctx, command.data.bankAccountId, (state) => decider.decideRecordWriteOff(command, state));
  }

  resolveException(ctx: CommandContext, command: decider.ResolveException): Promise<CommandOutcome> {
    return this.submit(ctx, command.data.bankAccountId, (state) => decider.decideResolveException(command, state));
  }

  closePeriod(ctx: CommandContext, command: ClosePeriod): Promise<CommandOutcome> {
    return this.submit(ctx, command.data.bankAccountId, (state) => decideClosePeriod(command, state));
  }

  /** The account's matches as the log has them now. */
  async state(bankAccountId: string): Promise<decider.ReconState> {
    return (await this.writer.loadShared(reconStream(bankAccountId))).state;
  }

  private async submit(ctx: CommandContext, bankAccountId: string, decide: (state: decider.ReconState) => Decision<decider.MatchEvent>): Promise<CommandOutcome> {
    const stream = reconStream(bankAccountId);
    const result = await this.writer.submit(stream, { commandId: ctx.commandId, decide, envelope: envelopeOf({ ctx, stream, schemaVersionOf: reconciliationSchemaVersion }) });
    return outcomeOf(result);
  }
}
