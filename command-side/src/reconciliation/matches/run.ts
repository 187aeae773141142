// A reconciliation run: the account's open items (statement lines and
// ledger lines on its ledger account, from the read models, less the items
// of live matches, from the log), its rules (from the log) and the matching
// engine; its proposals go to the recon stream, confirmed at once where the
// engine says so. What the engine proposes is decided again against the
// stream when it lands (decideProposals): a proposal whose item a clerk took
// meanwhile is left out and counted as a conflict. A proposal's match id is
// its items' (`<bankAccountId>:<proposalId>`), so a match that was rejected
// is not proposed again by a later run.
import { getHeapStatistics } from "node:v8";
import { DEFAULT_MATCHING_RULES, TrueupError } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import type { CommandContext, CommandOutcome } from "../../command.ts";
import { derivedEntityId } from "../../ids.ts";
import { readBankAccount } from "../bank-accounts/index.ts";
import { readMatchingRules } from "../matching-rules/index.ts";
import { proposeMatches } from "../matching/index.ts";
import type { MatchKind, Proposal } from "../matching/index.ts";
import type { MatchItemReader } from "./items.ts";
import type { MatchCommandService } from "./service.ts";
import { itemKey, kindOf } from "./decider.ts";
import { engineHints } from "./hints.ts";
import { appendNearMisses, nearMissRecording } from "./near-misses.ts";
import type { RunProposal } from "./decider.ts";

export interface RunLimits {
  readonly itemsPerSideMax: number;
  readonly proposalsPerAppendMax: number;
  /** How long a run may keep a client's connection silent (the server's idle timeout would cut it sooner). */
  readonly silenceMsMax: number;
  /** Open items whose near misses one run records (near-misses.ts); beyond it the run's record names the cut. */
  readonly nearMissItemsMax: number;
}

/** Most items per side a run reads, whatever the heap: the engine's own bounds are set for this. */
export const RUN_ITEMS_PER_SIDE_CEILING = 200_000;
/**
 * Heap one run needs per item (a side's item and its share of the other's,
 * the engine's indexes, proposals, their events): 1,437 MB of RSS for
 * 104,992 × 122,231 items through the API (BENCHMARKS.md, "Matching", the
 * end-to-end run), about 6.3 kB an item, rounded up.
 */
export const RUN_HEAP_BYTES_PER_ITEM = 8_000;
/** The share of the heap one run may take: the rest serves requests, projections and other runs meanwhile. */
export const RUN_HEAP_SHARE = 0.5;

/**
 * Items per side a run may read in this process: what half its heap holds
 * (RUN_HEAP_BYTES_PER_ITEM each), at most RUN_ITEMS_PER_SIDE_CEILING.
 * Beyond it the run is refused (RECONCILIATION_RUN_TOO_LARGE: narrow it
 * with from and to, or give the server a larger heap, TRUEUP_HEAP_MB),
 * never started and the server lost to an out-of-memory crash: at
 * `npm start`'s default heap (320 MB) that is 20,000 items per side.
 */
export function runItemsPerSideMax(heapLimitBytes: number = getHeapStatistics().heap_size_limit): number {
  return Math.max(1_000, Math.min(RUN_ITEMS_PER_SIDE_CEILING, Math.floor((heapLimitBytes * RUN_HEAP_SHARE) / RUN_HEAP_BYTES_PER_ITEM)));
}

export const RUN_LIMITS: RunLimits = {
  /** Items per side one run reads; a larger account is run in date windows (or on a larger heap). */
  itemsPerSideMax: runItemsPerSideMax(),
  /** Proposals per append to the recon stream: bounds one event batch. */
  proposalsPerAppendMax: 1_000,
  silenceMsMax: 15 * 60_000,
  /** ~0.6 kB an item in the log (three candidates with their reasons): 6 MB a run at the most. */
  nearMissItemsMax: 10_000,
};

/** A bound that cut a run short: the engine's (MatchLimits) or the run's own (nearMissItemsMax). */
export interface RunBound {
  readonly bound: string;
  readonly times: number;
  readonly detail: string;
}

export interface RunDeps {
  readonly store: EventStore;
  readonly items: MatchItemReader;
  readonly service: MatchCommandService;
  readonly limits?: Partial<RunLimits>;
}

export interface RunAnswer {
  readonly runId: string;
  readonly dryRun: boolean;
  readonly items: { readonly external: number; readonly internal: number };
  readonly proposals: Readonly<Record<MatchKind, number>>;
  readonly autoConfirmed: number;
  readonly suggested: number;
  readonly ambiguous: number;
  /** Proposals left out because an item was taken between the read and the write. */
  readonly conflicts: number;
  readonly bounds: readonly RunBound[];
  /** Open items whose near misses the run recorded (none for a dry run). */
  readonly nearMisses: number;
}

const digits = (value: bigint): string => value.toString();

function kindsOf(kinds: readonly MatchKind[]): Record<MatchKind, number> {
  const counts: Record<MatchKind, number> = { "1:1": 0, "1:N": 0, "N:1": 0, "N:M": 0 };
  for (const kind of kinds) counts[kind] += 1;
  return counts;
}

/** The command's day (UTC): dates a write-off whose items carry no date. */
export function dayOf(ctx: CommandContext): string {
  return ctx.occurredAt.toISOString().slice(0, 10);
}

/** The latest date among a proposal's external items: the day the bank booked the difference. */
function latestDate(ids: readonly string[], dates: ReadonlyMap<string, string | null>): string | null {
  let latest: string | null = null;
  for (const id of ids) {
    const date = dates.get(id) ?? null;
    if (date !== null && (latest === null || date > latest)) latest = date;
  }
  return latest;
}

function runProposalOf(bankAccountId: string, proposal: Proposal, dates: ReadonlyMap<string, string | null>): RunProposal {
  return {
    matchId: `${bankAccountId}:${proposal.proposalId}`,
    kind: proposal.kind,
    externalIds: [...proposal.externalIds],
    internalIds: [...proposal.internalIds],
    currency: proposal.currency,
    ruleId: proposal.ruleId,
    score: proposal.score,
    criteria: proposal.criteria.map((c) => ({ ...c })),
    differenceMinor: digits(proposal.differenceMinor),
    writeOff: proposal.writeOff === null ? null : { amountMinor: digits(proposal.writeOff.amountMinor), ledgerAccount: proposal.writeOff.ledgerAccount, date: latestDate(proposal.externalIds, dates) },
    residual: proposal.residual === null ? null : { ...proposal.residual, amountMinor: digits(proposal.residual.amountMinor) },
    ambiguous: proposal.ambiguity !== null,
    autoConfirm: proposal.autoConfirm,
  };
}

/** `options.rules`: the account's rules when the caller has just read them (else they are read here). */
export async function runReconciliation(
  deps: RunDeps,
  ctx: CommandContext,
  bankAccountId: string,
  options: { dryRun: boolean; from: string | null; to: string | null; rules?: MatchingRules },
): Promise<RunAnswer & CommandOutcome> {
  const limits = { ...RUN_LIMITS, ...deps.limits };
  const account = await readBankAccount(deps.store, bankAccountId);
  if (account === undefined) throw new TrueupError("BANK_ACCOUNT_NOT_FOUND", `no bank account ${bankAccountId}`);
  const rules = options.rules ?? (await readMatchingRules(deps.store, bankAccountId))?.rules ?? DEFAULT_MATCHING_RULES;
  const window = { from: options.from, to: options.to, itemsMax: limits.itemsPerSideMax };
  const [external, internal, state] = await Promise.all([
    deps.items.runExternal(bankAccountId, window),
    deps.items.runInternal(account.ledgerId, account.ledgerAccount, window),
    deps.service.state(bankAccountId),
  ]);
  if (external.length > limits.itemsPerSideMax || internal.length > limits.itemsPerSideMax) {
    throw new TrueupError("RECONCILIATION_RUN_TOO_LARGE", `more than ${limits.itemsPerSideMax} items on a side in this window (what this server's heap holds for one run); narrow it with from and to, or run the server with a larger TRUEUP_HEAP_MB`);
  }
  const open = {
    external: external.filter((item) => item.currency === account.currency && !state.live.has(itemKey("external", item.id))),
    internal: internal.filter((item) => item.currency === account.currency && !state.live.has(itemKey("internal", item.id))),
  };
  const result = proposeMatches({ external: open.external, internal: open.internal, rules, hints: engineHints(state.hints) });
  const runId = derivedEntityId("run", ctx.commandId);
  const dates = new Map(open.external.map((item) => [item.id, item.bookingDate ?? item.valueDate]));
  const proposals = result.proposals.map((proposal) => runProposalOf(bankAccountId, proposal, dates));
  const reconAccount = { ledgerId: account.ledgerId, ledgerAccount: account.ledgerAccount };
  let recorded = proposals.length;
  let confirmed = result.counts.autoConfirm;
  let conflicts = 0;
  let byKind: Readonly<Record<MatchKind, number>> = result.counts.proposals;
  let outcome: CommandOutcome | undefined;
  const recording = nearMissRecording(bankAccountId, runId, options.dryRun ? [] : result.nearMisses, limits.nearMissItemsMax);
  const bounds: RunBound[] = result.bounds.map((b) => ({ ...b }));
  if (recording.omitted > 0) {
    bounds.push({
      bound: "nearMissItemsMax",
      times: recording.omitted,
      detail: `near misses recorded for ${recording.items} of ${recording.items + recording.omitted} open items (external first); run a narrower window for the others`,
    });
  }
  if (!options.dryRun) {
    for (let at = 0; at < proposals.length; at += limits.proposalsPerAppendMax) {
      const slice = proposals.slice(at, at + limits.proposalsPerAppendMax);
      // Each slice is its own command, its id from its content: a retry of the run recognises a slice that landed,
      // and a retry that proposes other things (the items of what landed are no longer open) writes them anew.
      const commandId = `${ctx.commandId}#${derivedEntityId("s", ...slice.map((p) => p.matchId))}`;
      await deps.service.propose({ ...ctx, commandId }, { type: "ProposeMatches", data: { bankAccountId, runId, proposals: slice, account: reconAccount, today: dayOf(ctx) } });
    }
    // Counted from the log, not from the slices' answers: a retry of a run that crashed half way did not propose
    // again what landed before the crash (its items were no longer open), and that counts too.
    const after = proposals.length === 0 ? state : await deps.service.state(bankAccountId);
    const mine = [...after.matches.entries()].filter(([, m]) => m.runId === runId).map(([, m]) => m);
    const conflicted = proposals.filter((p) => after.matches.get(p.matchId)?.runId !== runId);
    recorded = mine.length;
    confirmed = mine.filter((m) => m.automatic).length;
    conflicts = conflicted.length;
    byKind = kindsOf([...mine.map((m) => kindOf(m.externalIds.length, m.internalIds.length)), ...conflicted.map((p) => p.kind)]);
    // Before the run's record, so a read at the run's position shows them.
    await appendNearMisses(deps.store, ctx, bankAccountId, recording);
    outcome = await deps.service.recordRun(
      { ...ctx, commandId: `${ctx.commandId}#run` },
      {
        type: "RecordRun",
        data: {
          bankAccountId, runId, window: { from: options.from, to: options.to },
          items: { external: open.external.length, internal: open.internal.length },
          proposals: { ...byKind }, autoConfirmed: confirmed, suggested: recorded - confirmed,
          ambiguous: result.counts.ambiguous, conflicts, bounds,
        },
      },
    );
  }
  return {
    runId,
    dryRun: options.dryRun,
    items: { external: open.external.length, internal: open.internal.length },
    proposals: byKind,
    autoConfirmed: confirmed,
    suggested: recorded - confirmed,
    ambiguous: result.counts.ambiguous,
    conflicts,
    bounds,
    nearMisses: recording.items,
    // The recon stream after the run's record: pass `position` as minPosition to read what it recorded.
    revision: outcome?.revision,
    position: outcome?.position,
    replayed: false,
    recorded: false,
  };
}
