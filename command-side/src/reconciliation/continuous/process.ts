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
import type { EventStore } from "@trueup/event-store";
import { readMatchingRules } from "../matching-rules/index.ts";
import type { MatchItemReader } from "../matches/items.ts";
import { runReconciliation } from "../matches/run.ts";
import type { RunLimits } from "../matches/run.ts";
import type { MatchCommandService } from "../matches/service.ts";
import { transientAsStoreError } from "../transient.ts";

/** Who continuous runs are recorded as. */
export const CONTINUOUS_ACTOR = "process:continuous-matching";

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
      return await transientAsStoreError(`continuous matching of ${trigger.bankAccountId}`, async () => {
        // Read once: the window comes from these rules, and the run matches by the same version.
        const rules = (await readMatchingRules(this.deps.store, trigger.bankAccountId))?.rules ?? DEFAULT_MATCHING_RULES;
        if (!rules.continuous) return { outcome: "off" } as const;
        const widest = widestDateWindow(rules);
        const from = trigger.dates === null ? null : addDays(trigger.dates.from, -widest);
        const to = trigger.dates === null ? null : addDays(trigger.dates.to, widest);
        const ctx = { commandId: `continuous:${trigger.bankAccountId}:${trigger.eventId}`, actor: CONTINUOUS_ACTOR, correlationId: trigger.correlationId, occurredAt: trigger.occurredAt };
        const answer = await runReconciliation(this.deps, ctx, trigger.bankAccountId, { dryRun: false, from, to, rules });
        const proposals = Object.values(answer.proposals).reduce((sum, n) => sum + n, 0);
        return { outcome: "run", runId: answer.runId, from, to, proposals, autoConfirmed: answer.autoConfirmed, conflicts: answer.conflicts } as const;
      });
    } catch (error) {
      // What the account's state refuses is the outcome, recorded; transient failures were rethrown for a retry.
      if (error instanceof TrueupError) return { outcome: "refused", code: error.code, message: error.message };
      throw error;
    }
  }
}
