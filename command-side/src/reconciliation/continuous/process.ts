// Continuous reconciliation: a new statement, or a posting on a bank
// account's ledger account, starts a run over the items it may match, so a
// clerk sees proposals within seconds of the import, not at month end. The
// trigger comes from the continuous-matching process manager
// (projections/src/continuous-matching.ts), which coalesces a batch of
// events into one trigger per bank account; this turns a trigger into a
// run, the same run `POST /bank-accounts/{id}/reconciliation-runs` makes.
//
// - Per bank account, on by default: the rules' `continuous` (false: only
//   runs a clerk asks for).
// - Only the affected dates: the run's window is the new items' dates
//   widened by the rules' widest date window (what any of them could still
//   match), or the whole account when a statement states no period.
// - Idempotent per trigger: the run's command id comes from the trigger's
//   last event, so the same batch handed over again after a crash is
//   recognised slice by slice (runReconciliation derives each slice's id
//   from it and its content), and whatever is proposed twice is refused by
//   the recon stream, which never puts an item in two live matches.
// - What the account's state refuses (an inactive account, a window still
//   too large) is the outcome, recorded, not retried; storage away or a
//   race lost is thrown as StoreUnavailableError for the runner to retry.
import { DEFAULT_MATCHING_RULES, TrueupError, addDays } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import { StoreUnavailableError } from "@trueup/event-store";
import type { EventStore } from "@trueup/event-store";
import { ReceiptConflictError, StaleDecisionError } from "../../command.ts";
import { readMatchingRules } from "../matching-rules/index.ts";
import type { MatchItemReader } from "../matches/items.ts";
import { runReconciliation } from "../matches/run.ts";
import type { RunLimits } from "../matches/run.ts";
import type { MatchCommandService } from "../matches/service.ts";

/** Who continuous runs are recorded as. */
export const CONTINUOUS_ACTOR = "process:continuous-matching";

const TRANSIENT_CODES: ReadonlySet<string> = new Set(["STORE_UNAVAILABLE", "OVERLOADED", "CONCURRENCY_CONFLICT", "READ_MODEL_NOT_READY", "READ_MODEL_BEHIND"]);

/** One bank account's share of a batch of events: the dates of its new items, or all of them. */
export interface ContinuousTrigger {
  readonly bankAccountId: string;
  /** The earliest and latest date of the new items; null: unknown (a statement without a period), run the whole account. */
  readonly dates: { readonly from: string; readonly to: string } | null;
  /** The batch's last event for this account: the run's command id comes from it. */
  readonly eventId: string;
  readonly correlationId: string;
  readonly occurredAt: Date;
}

export type ContinuousOutcome =
  | { readonly outcome: "run"; readonly runId: string; readonly from: string | null; readonly to: string | null; readonly proposals: number; readonly autoConfirmed: number; readonly conflicts: number }
  | { readonly outcome: "off" }
  | { readonly outcome: "refused"; readonly code: string; readonly message: string };

export interface ContinuousMatchingDeps {
  readonly store: EventStore;
  readonly items: MatchItemReader;
  readonly service: MatchCommandService;
  readonly limits?: Partial<RunLimits>;
}

/** The widest number of days any rule looks either side of an item's date. */
export function widestDateWindow(rules: MatchingRules): number {
  return rules.rules.reduce((widest, rule) => Math.max(widest, rule.dateWindowDays), 0);
}

export class ContinuousMatching {
  constructor(private readonly deps: ContinuousMatchingDeps) {}

  /** Whether the account's rules want continuous runs (the defaults do). */
  async enabled(bankAccountId: string): Promise<boolean> {
    // Storage away is the store's StoreUnavailableError already: the runner retries it.
    return ((await readMatchingRules(this.deps.store, bankAccountId))?.rules ?? DEFAULT_MATCHING_RULES).continuous;
  }

  async run(trigger: ContinuousTrigger): Promise<ContinuousOutcome> {
    try {
      const rules = (await readMatchingRules(this.deps.store, trigger.bankAccountId))?.rules ?? DEFAULT_MATCHING_RULES;
      if (!rules.continuous) return { outcome: "off" };
      const widest = widestDateWindow(rules);
      const from = trigger.dates === null ? null : addDays(trigger.dates.from, -widest);
      const to = trigger.dates === null ? null : addDays(trigger.dates.to, widest);
      const ctx = { commandId: `continuous:${trigger.bankAccountId}:${trigger.eventId}`, actor: CONTINUOUS_ACTOR, correlationId: trigger.correlationId, occurredAt: trigger.occurredAt };
      const answer = await runReconciliation(this.deps, ctx, trigger.bankAccountId, { dryRun: false, from, to });
      const proposals = Object.values(answer.proposals).reduce((sum, n) => sum + n, 0);
      return { outcome: "run", runId: answer.runId, from, to, proposals, autoConfirmed: answer.autoConfirmed, conflicts: answer.conflicts };
    } catch (error) {
      const transient = (error instanceof TrueupError && TRANSIENT_CODES.has(error.code)) || error instanceof StaleDecisionError || error instanceof ReceiptConflictError;
      if (transient) throw new StoreUnavailableError(`continuous matching of ${trigger.bankAccountId}: ${error.message}; retried`, { cause: error });
      if (error instanceof TrueupError) return { outcome: "refused", code: error.code, message: error.message };
      throw error;
    }
  }
}
