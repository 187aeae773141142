// The matching engine's input and output. The engine is pure: items, rules
// and hints in, proposals out; it never reads a store or a clock, and the
// same input gives the same output whatever the order of its items.
//
// Amounts are signed minor units seen from the bank account: positive is
// money into it. An external item (statement line) on the credit side of
// the bank's statement is positive; an internal item (a ledger line on the
// bank account's linked ledger account, an asset) is positive when it is a
// debit. A match balances when its two sides sum to the same amount.
import type { MatchingRules } from "@trueup/contracts";

export interface ExternalItem {
  /** Unique among the external items (a statement line id, with its bank account). */
  readonly id: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  /** YYYY-MM-DD; at least one of the two dates is set. */
  readonly bookingDate: string | null;
  readonly valueDate: string | null;
  readonly endToEndId: string | null;
  readonly bankReference: string | null;
  readonly customerReference: string | null;
  readonly creditorReference: string | null;
  readonly remittanceInformation: string | null;
  readonly description: string | null;
  readonly counterpartyName: string | null;
  readonly counterpartyIban: string | null;
}

export interface InternalItem {
  /** Unique among the internal items (`<entryId>:<line index>`). */
  readonly id: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  /** The journal entry's effective date, YYYY-MM-DD. */
  readonly date: string;
  /** The journal entry's external reference. */
  readonly reference: string | null;
  readonly description: string | null;
  readonly counterpartyName: string | null;
  readonly counterpartyIban: string | null;
  /** The entry's other accounts (where the money came from or went), for the clerk's hints. */
  readonly contraAccounts: readonly string[];
}

/** Learned from confirmed manual matches: this counterparty's money went to (or came from) this ledger account. */
export interface CounterpartyHint {
  /** A normalised counterparty name (counterpartyKey) or IBAN. */
  readonly counterparty: string;
  readonly ledgerAccount: string;
  readonly confirmations: number;
}

/**
 * Every search is bounded; each bound that cut a search short is named in
 * the output (MatchResult.bounds). Work bounds are counts, so the output
 * stays deterministic; the time budget is a last resort whose cut says so.
 */
export interface MatchLimits {
  /** Scored candidates kept per external item (the best ones). */
  readonly candidatesPerItemMax: number;
  /** Items on one side of a component solved exactly; a larger one is solved greedily. */
  readonly componentSizeMax: number;
  /** Items a grouping search considers around its anchor. */
  readonly groupCandidatesMax: number;
  /** Subsets one grouping search may visit. */
  readonly groupSearchNodesMax: number;
  /** Near-miss candidates reported per unmatched item. */
  readonly nearMissesPerItemMax: number;
  /** Wall-clock budget; when it runs out the engine stops searching and says so (the output is then no longer deterministic). */
  readonly timeBudgetMs: number;
}

export const DEFAULT_MATCH_LIMITS: MatchLimits = {
  candidatesPerItemMax: 8,
  componentSizeMax: 64,
  groupCandidatesMax: 14,
  groupSearchNodesMax: 20_000,
  nearMissesPerItemMax: 3,
  timeBudgetMs: 60_000,
};

export interface MatchInput {
  readonly external: readonly ExternalItem[];
  readonly internal: readonly InternalItem[];
  readonly rules: MatchingRules;
  readonly hints?: readonly CounterpartyHint[];
  readonly limits?: Partial<MatchLimits>;
  /** Milliseconds, for the time budget only; the default is performance.now. */
  readonly now?: () => number;
}

export type MatchKind = "1:1" | "1:N" | "N:1" | "N:M";
export type Grade = "exact" | "strong" | "close" | "weak" | "absent";

export interface Criterion {
  readonly criterion: "amount" | "date" | "reference" | "counterpartyName" | "counterpartyIban" | "hint" | "groupSize" | "partial";
  readonly grade: Grade;
  readonly points: number;
  readonly reason: string;
}

export interface Proposal {
  /** Derived from its kind and items: the same proposal has the same id in every run. */
  readonly proposalId: string;
  readonly kind: MatchKind;
  readonly ruleId: string;
  /** Sorted. */
  readonly externalIds: readonly string[];
  readonly internalIds: readonly string[];
  readonly currency: string;
  /** 0–100. */
  readonly score: number;
  readonly criteria: readonly Criterion[];
  /** The criteria's reasons in one sentence. */
  readonly explanation: string;
  /** Σ external − Σ internal. Zero, a tolerated difference (writeOff), or the residual of a partial match. */
  readonly differenceMinor: bigint;
  readonly writeOff: { readonly amountMinor: bigint; readonly ledgerAccount: string } | null;
  /** A partial match: the part of the larger item left open. */
  readonly residual: { readonly side: "external" | "internal"; readonly itemId: string; readonly amountMinor: bigint } | null;
  /** Another candidate was as good: never confirmed automatically. The competing proposals' item ids. */
  readonly ambiguity: { readonly competingExternalIds: readonly string[]; readonly competingInternalIds: readonly string[] } | null;
  readonly autoConfirm: boolean;
}

export interface NearMissCandidate {
  readonly itemIds: readonly string[];
  readonly score: number;
  /** Why it was not proposed (each failed criterion or the proposal that took the item). */
  readonly failures: readonly string[];
}

export interface NearMiss {
  readonly side: "external" | "internal";
  readonly itemId: string;
  readonly candidates: readonly NearMissCandidate[];
}

export interface BoundHit {
  readonly bound: keyof MatchLimits;
  /** How many searches the bound cut short. */
  readonly times: number;
  readonly detail: string;
}

export interface MatchResult {
  /** In a canonical order: by kind, then by the first external id, then by the first internal id. */
  readonly proposals: readonly Proposal[];
  readonly nearMisses: readonly NearMiss[];
  /** One entry per bound and cause, by bound name. */
  readonly bounds: readonly BoundHit[];
  readonly counts: { readonly external: number; readonly internal: number; readonly proposals: Readonly<Record<MatchKind, number>>; readonly ambiguous: number; readonly autoConfirm: number };
}
