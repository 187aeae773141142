// How a rule grades a candidate match: each criterion earns integer points
// and says why, in words a clerk can check ("amount exact; value date +2
// days (window 3); end-to-end id equal"). The score is their sum, capped at
// 100. A criterion that rules the pair out (a different amount beyond the
// tolerance, a date outside the window) is a failure, kept for near misses.
//
// Points, by rule (the weights say which evidence this engine trusts):
// - reference: shared reference 60, amount exact 30 (tolerated 20,
//   partial 10), date up to 10.
// - amountDate: amount exact 50 (tolerated 35), date 25 down to 10 at the
//   window's edge, counterparty name up to 15 (or -10 when both sides name
//   a counterparty and the names differ), IBAN 10, a learned hint 5.
//   Refused: names (or a name and a description) less similar than the
//   rule's minimum, when it has one and the IBANs do not agree; and a
//   tolerated amount whose counterparty does not agree by name or IBAN.
// - group: amount 50 (35), date spread 25 down to 10, name up to 15, minus 2
//   per item beyond three; a shared reference in place of the name, 15.
// So an exact amount on the same day with nothing else scores 75, short of
// the default auto-confirm score (90): a confirmation without a clerk needs
// a reference, or a matching name and IBAN.
import type { MatchingRule, MatchingRules } from "@trueup/contracts";
import type { CounterpartyHint, Criterion, Grade } from "./types.ts";
import { dayDistance, dayGap, formatAmount, formatPermille, nameSimilarity, namesComparable } from "./prepare.ts";
import type { Prepared, Reference } from "./prepare.ts";

/** Name similarity (permille) a tolerated amount needs when the IBANs do not agree. */
const TOLERANCE_NAME_MIN = 800;
/** Two counterparties that do not look alike: evidence against the pair. */
const NAME_MISMATCH_POINTS = -10;

export type ReferenceRule = Extract<MatchingRule, { kind: "reference" }>;
export type AmountDateRule = Extract<MatchingRule, { kind: "amountDate" }>;
export type GroupRule = Extract<MatchingRule, { kind: "group" }>;
export type PairRule = ReferenceRule | AmountDateRule;

export interface Evaluation {
  readonly ruleId: string;
  readonly score: number;
  readonly criteria: readonly Criterion[];
  /** Σ external − Σ internal. */
  readonly differenceMinor: bigint;
  /** True when the difference is a tolerated one, to be written off. */
  readonly writeOff: boolean;
  readonly partial: { readonly side: "external" | "internal"; readonly itemId: string; readonly amountMinor: bigint } | null;
}

export type Verdict = { readonly accepted: true; readonly evaluation: Evaluation } | { readonly accepted: false; readonly failures: readonly string[]; readonly points: number };

export interface ScoringContext {
  readonly rules: MatchingRules;
  readonly toleranceAbsoluteMinor: bigint;
  readonly toleranceBasisPoints: bigint;
  /** Counterparty (name key or IBAN) → ledger account → confirmations. */
  readonly hints: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** The run's recurring criteria, shared by its proposals. */
  readonly criteria: CriterionCache;
}

/**
 * Most criteria recur word for word ("amount exact", "value date 1 day
 * apart (window 7)", "counterparty name similarity 0.93"): each is made
 * once per run and shared by every proposal that has it (criteria are
 * immutable). At a million proposals their copies were most of the
 * result's memory. Criteria that name one item's data (a reference, a
 * partial amount, a hint) are not kept; neither is anything past
 * CRITERIA_CACHED_MAX.
 */
export class CriterionCache {
  private readonly known = new Map<string, Criterion>();
  of(name: Criterion["criterion"], grade: Grade, points: number, reason: string): Criterion {
    const key = `${name}\u0000${grade}\u0000${points}\u0000${reason}`;
    let found = this.known.get(key);
    if (found === undefined) {
      found = criterion(name, grade, points, reason);
      if (this.known.size < CRITERIA_CACHED_MAX) this.known.set(key, found);
    }
    return found;
  }
}
/** Distinct shared criteria per run: date and name criteria are a few thousand; tolerated differences are bounded by this. */
const CRITERIA_CACHED_MAX = 100_000;

export function scoringContext(rules: MatchingRules, hints: readonly CounterpartyHint[]): ScoringContext {
  const byCounterparty = new Map<string, Map<string, number>>();
  for (const hint of hints) {
    const accounts = byCounterparty.get(hint.counterparty) ?? new Map<string, number>();
    accounts.set(hint.ledgerAccount, (accounts.get(hint.ledgerAccount) ?? 0) + hint.confirmations);
    byCounterparty.set(hint.counterparty, accounts);
  }
  return {
    rules,
    toleranceAbsoluteMinor: BigInt(rules.tolerance.absoluteMinor),
    toleranceBasisPoints: BigInt(rules.tolerance.basisPoints),
    hints: byCounterparty,
    criteria: new CriterionCache(),
  };
}

const abs = (value: bigint): bigint => (value < 0n ? -value : value);

/** The largest difference the account tolerates on an amount: its absolute tolerance, or its basis points of the amount, whichever is larger. */
export function toleranceMinor(ctx: ScoringContext, amountMinor: bigint): bigint {
  const relative = (abs(amountMinor) * ctx.toleranceBasisPoints) / 10_000n;
  return relative > ctx.toleranceAbsoluteMinor ? relative : ctx.toleranceAbsoluteMinor;
}

/** Within the account's tolerance of the external amount. */
export function tolerated(ctx: ScoringContext, differenceMinor: bigint, externalMinor: bigint): boolean {
  return abs(differenceMinor) <= toleranceMinor(ctx, externalMinor);
}

/** A criterion of its own (frozen like the shared ones, so that all have one shape). */
function criterion(name: Criterion["criterion"], grade: Grade, points: number, reason: string): Criterion {
  return Object.freeze({ criterion: name, grade, points, reason });
}

export function total(criteria: readonly Criterion[]): number {
  let sum = 0;
  for (const c of criteria) sum += c.points;
  return Math.max(0, Math.min(100, sum));
}

const REFERENCE_NAMES: Readonly<Record<Reference["source"], string>> = {
  endToEndId: "end-to-end id",
  bankReference: "bank reference",
  customerReference: "customer reference",
  creditorReference: "creditor reference",
  invoiceNumber: "invoice number",
  reference: "reference",
};

/** The first of the external item's references (in the rule's field order) that the internal item also has. */
export function sharedReference(rule: ReferenceRule, external: Prepared, internal: Prepared): Reference | undefined {
  for (const field of rule.fields) {
    for (const ref of external.references) {
      if (ref.source !== field) continue;
      if (internal.references.some((other) => other.value === ref.value)) return ref;
    }
  }
  return undefined;
}

function datePoints(days: number, window: number, pointsMax: number, pointsAtEdge: number): number {
  return pointsMax - Math.floor(((pointsMax - pointsAtEdge) * days) / Math.max(window, 1));
}

function dateCriterion(ctx: ScoringContext, days: number, dateLabel: string, window: number, pointsMax: number, pointsAtEdge: number, explain = true): Criterion {
  const points = datePoints(days, window, pointsMax, pointsAtEdge);
  const grade: Grade = days === 0 ? "exact" : days * 2 <= window ? "close" : "weak";
  if (!explain) return criterion("date", grade, points, "");
  const reason = days === 0 ? `${dateLabel} the same day` : `${dateLabel} ${days} day${days === 1 ? "" : "s"} apart (window ${window})`;
  return ctx.criteria.of("date", grade, points, reason);
}

/** Points for the counterparty's name: up to pointsMax when similar enough, NAME_MISMATCH_POINTS when both sides name someone and the names differ. */
function namePoints(similarity: number, minimum: number, pointsMax: number): number {
  return similarity < Math.max(minimum, 1) ? NAME_MISMATCH_POINTS : Math.floor((pointsMax * similarity) / 1000);
}

function nameCriterion(ctx: ScoringContext, similarity: number, minimum: number, pointsMax: number, explain = true): Criterion {
  const points = namePoints(similarity, minimum, pointsMax);
  if (similarity < Math.max(minimum, 1)) {
    if (!explain) return criterion("counterpartyName", "weak", points, "");
    return ctx.criteria.of("counterpartyName", "weak", points, `counterparty name similarity ${formatPermille(similarity)} (below ${formatPermille(Math.max(minimum, 1))})`);
  }
  const grade: Grade = similarity === 1000 ? "exact" : similarity >= 900 ? "strong" : similarity >= 700 ? "close" : "weak";
  if (!explain) return criterion("counterpartyName", grade, points, "");
  return ctx.criteria.of("counterpartyName", grade, points, `counterparty name similarity ${formatPermille(similarity)}`);
}

/** A learned hint: this counterparty's money was booked against one of the ledger line's contra accounts before. */
function hintCriterion(ctx: ScoringContext, external: Prepared, internal: Prepared, explain = true): Criterion | undefined {
  for (const key of [external.iban, external.name.key]) {
    if (key === null) continue;
    const accounts = ctx.hints.get(key);
    if (accounts === undefined) continue;
    for (const account of internal.contraAccounts) {
      const times = accounts.get(account);
      if (times !== undefined) return criterion("hint", "strong", 5, explain ? `counterparty ${key} was matched to account ${account} before (${times} time${times === 1 ? "" : "s"})` : "");
    }
  }
  return undefined;
}

interface AmountOutcome {
  readonly criterion: Criterion;
  readonly writeOff: boolean;
  readonly partial: Evaluation["partial"];
}

function amountOutcome(
  ctx: ScoringContext,
  external: Prepared,
  internal: Prepared,
  options: { exact: number; tolerated: number | null; partial: number | null },
  explain = true,
): AmountOutcome | string {
  const difference = external.amountMinor - internal.amountMinor;
  if (difference === 0n) return { criterion: ctx.criteria.of("amount", "exact", options.exact, "amount exact"), writeOff: false, partial: null };
  const shown = explain ? formatAmount(abs(difference), external.currency) : "";
  if (options.tolerated !== null && tolerated(ctx, difference, external.amountMinor)) {
    const reason = `amount differs by ${shown}, within the tolerance (written off)`;
    return { criterion: explain ? ctx.criteria.of("amount", "close", options.tolerated, reason) : criterion("amount", "close", options.tolerated, ""), writeOff: true, partial: null };
  }
  if (options.partial !== null) {
    const externalLarger = external.magnitudeMinor > internal.magnitudeMinor;
    const larger = externalLarger ? external : internal;
    const smaller = externalLarger ? internal : external;
    const rest = larger.amountMinor - smaller.amountMinor;
    const reason = !explain ? "" : `partial: ${formatAmount(smaller.magnitudeMinor, external.currency)} of ${formatAmount(larger.magnitudeMinor, external.currency)}, ${formatAmount(abs(rest), external.currency)} left open on the ${larger.side} item`;
    return { criterion: criterion("partial", "weak", options.partial, reason), writeOff: false, partial: { side: larger.side, itemId: larger.id, amountMinor: rest } };
  }
  return `amount differs by ${shown}${options.tolerated === null ? "" : " (beyond the tolerance)"}`;
}

function basicFailure(external: Prepared, internal: Prepared): string | undefined {
  if (external.currency !== internal.currency) return `currency ${external.currency} against ${internal.currency}`;
  if (external.sign !== internal.sign) return "opposite directions (money in against money out)";
  return undefined;
}

function referenceVerdict(ctx: ScoringContext, rule: ReferenceRule, external: Prepared, internal: Prepared, explain: boolean): Verdict {
  const failures: string[] = [];
  let points = 0;
  const criteria: Criterion[] = [];
  const basic = basicFailure(external, internal);
  if (basic !== undefined) failures.push(basic);
  const shared = sharedReference(rule, external, internal);
  if (shared === undefined) failures.push(`no shared reference (${rule.fields.map((f) => REFERENCE_NAMES[f]).join(", ")})`);
  else criteria.push(criterion("reference", "exact", 60, explain ? `${REFERENCE_NAMES[shared.source]} equal (${shared.value})` : ""));
  const amount = amountOutcome(ctx, external, internal, { exact: 30, tolerated: rule.allowTolerance ? 20 : null, partial: rule.allowPartial ? 10 : null }, explain);
  if (typeof amount === "string") failures.push(amount);
  else criteria.push(amount.criterion);
  const { days, dateLabel } = dayDistance(external, internal);
  if (days > rule.dateWindowDays) failures.push(`${dateLabel} ${days} days apart (window ${rule.dateWindowDays})`);
  else criteria.push(dateCriterion(ctx, days, dateLabel, rule.dateWindowDays, 10, 0, explain));
  for (const c of criteria) points += c.points;
  if (failures.length > 0 || typeof amount === "string") return { accepted: false, failures, points };
  const hint = hintCriterion(ctx, external, internal, explain);
  if (hint !== undefined) criteria.push(hint);
  return { accepted: true, evaluation: evaluation(rule.id, criteria, external, internal, amount) };
}

function amountDateVerdict(ctx: ScoringContext, rule: AmountDateRule, external: Prepared, internal: Prepared, explain: boolean): Verdict {
  const failures: string[] = [];
  const criteria: Criterion[] = [];
  const basic = basicFailure(external, internal);
  if (basic !== undefined) failures.push(basic);
  const amount = amountOutcome(ctx, external, internal, { exact: 50, tolerated: rule.allowTolerance ? 35 : null, partial: null }, explain);
  if (typeof amount === "string") failures.push(amount);
  else criteria.push(amount.criterion);
  const { days, dateLabel } = dayDistance(external, internal);
  if (days > rule.dateWindowDays) failures.push(`${dateLabel} ${days} days apart (window ${rule.dateWindowDays})`);
  else criteria.push(dateCriterion(ctx, days, dateLabel, rule.dateWindowDays, 25, 10, explain));
  const similarity = nameSimilarity(external, internal);
  if (namesComparable(external, internal)) criteria.push(nameCriterion(ctx, similarity, rule.nameSimilarityMin, 15, explain));
  const sameIban = external.iban !== null && external.iban === internal.iban;
  if (sameIban) criteria.push(ctx.criteria.of("counterpartyIban", "exact", 10, "counterparty IBAN equal"));
  // With a minimum set, two counterparties that differ are two parties, whatever the amounts say.
  if (rule.nameSimilarityMin > 0 && namesComparable(external, internal) && similarity < rule.nameSimilarityMin && !sameIban) failures.push(`counterparty name similarity ${formatPermille(similarity)} (below ${formatPermille(rule.nameSimilarityMin)})`);
  // An amount that is only close is not evidence enough on its own: the counterparty must agree.
  if (typeof amount !== "string" && amount.writeOff && !sameIban && similarity < Math.max(rule.nameSimilarityMin, TOLERANCE_NAME_MIN)) {
    failures.push(`amount differs by ${formatAmount(abs(external.amountMinor - internal.amountMinor), external.currency)}, and a tolerated difference needs the counterparty's name (similarity ${formatPermille(TOLERANCE_NAME_MIN)}) or IBAN to agree`);
  }
  const points = criteria.reduce((sum, c) => sum + c.points, 0);
  if (failures.length > 0 || typeof amount === "string") return { accepted: false, failures, points };
  const hint = hintCriterion(ctx, external, internal, explain);
  if (hint !== undefined) criteria.push(hint);
  return { accepted: true, evaluation: evaluation(rule.id, criteria, external, internal, amount) };
}

function evaluation(ruleId: string, criteria: Criterion[], external: Prepared, internal: Prepared, amount: AmountOutcome): Evaluation {
  return {
    ruleId,
    score: total(criteria),
    criteria,
    differenceMinor: external.amountMinor - internal.amountMinor,
    writeOff: amount.writeOff,
    partial: amount.partial,
  };
}

/** The rule's verdict; without `explain`, the criteria carry no reasons (the search only needs the score). */
export function pairVerdict(ctx: ScoringContext, rule: PairRule, external: Prepared, internal: Prepared, explain = true): Verdict {
  return rule.kind === "reference" ? referenceVerdict(ctx, rule, external, internal, explain) : amountDateVerdict(ctx, rule, external, internal, explain);
}

/**
 * True when the rule surely refuses the pair, by the cheap tests alone
 * (currency, direction, date window, a shared reference, the amount): the
 * search skips building the reasons of a refusal nobody will read.
 */
function surelyRefused(ctx: ScoringContext, rule: PairRule, external: Prepared, internal: Prepared): boolean {
  if (external.currency !== internal.currency || external.sign !== internal.sign) return true;
  if (dayGap(external, internal) > rule.dateWindowDays) return true;
  const difference = external.amountMinor - internal.amountMinor;
  if (rule.kind === "reference") {
    if (sharedReference(rule, external, internal) === undefined) return true;
    return difference !== 0n && !rule.allowPartial && !(rule.allowTolerance && tolerated(ctx, difference, external.amountMinor));
  }
  return difference !== 0n && !(rule.allowTolerance && tolerated(ctx, difference, external.amountMinor));
}

const REFUSED: Verdict = Object.freeze({ accepted: false, failures: Object.freeze([]), points: 0 });

/**
 * The first pair rule (in priority order) that accepts the pair, or every
 * rule's failures. Without `explain`, neither a refusal nor an acceptance
 * carries reasons (the search only needs the score), which saves building
 * them for every candidate; a chosen pair is evaluated again to explain it.
 */
export function evaluatePair(ctx: ScoringContext, rules: readonly PairRule[], external: Prepared, internal: Prepared, explain = true): Verdict {
  if (!explain) {
    for (const rule of rules) {
      if (surelyRefused(ctx, rule, external, internal)) continue;
      const verdict = pairVerdict(ctx, rule, external, internal, false);
      if (verdict.accepted) return verdict;
    }
    return REFUSED;
  }
  const failures: string[] = [];
  let points = 0;
  for (const rule of rules) {
    const verdict = pairVerdict(ctx, rule, external, internal);
    if (verdict.accepted) return verdict;
    points = Math.max(points, verdict.points);
    failures.push(`${rule.id}: ${verdict.failures.join(", ")}`);
  }
  return { accepted: false, failures, points };
}

/**
 * The score evaluatePair(…, explain = false) gives the pair, or -1 where it
 * refuses it: the same tests in the same order and the same points, without
 * building criteria, failures or verdicts. The pair search calls it for
 * every candidate; a pair it chooses is evaluated again in full, and the
 * two scores are asserted equal (engine.ts).
 */
export function pairScore(ctx: ScoringContext, rules: readonly PairRule[], external: Prepared, internal: Prepared): number {
  for (const rule of rules) {
    if (surelyRefused(ctx, rule, external, internal)) continue;
    const score = rule.kind === "reference" ? referenceScore(ctx, rule, external, internal) : amountDateScore(ctx, rule, external, internal);
    if (score >= 0) return score;
  }
  return -1;
}

const clamp = (points: number): number => Math.max(0, Math.min(100, points));

/** referenceVerdict's score, for a pair surelyRefused let through (same currency and direction, a shared reference, inside the window). */
function referenceScore(ctx: ScoringContext, rule: ReferenceRule, external: Prepared, internal: Prepared): number {
  const difference = external.amountMinor - internal.amountMinor;
  let points = 60;
  if (difference === 0n) points += 30;
  else if (rule.allowTolerance && tolerated(ctx, difference, external.amountMinor)) points += 20;
  else if (rule.allowPartial) points += 10;
  else return -1;
  const days = dayGap(external, internal);
  if (days > rule.dateWindowDays) return -1;
  points += datePoints(days, rule.dateWindowDays, 10, 0);
  return clamp(points + hintPoints(ctx, external, internal));
}

/** amountDateVerdict's score, for a pair surelyRefused let through (same currency and direction, inside the window, the amount exact or tolerated). */
function amountDateScore(ctx: ScoringContext, rule: AmountDateRule, external: Prepared, internal: Prepared): number {
  const difference = external.amountMinor - internal.amountMinor;
  let points: number;
  let writeOff = false;
  if (difference === 0n) points = 50;
  else if (rule.allowTolerance && tolerated(ctx, difference, external.amountMinor)) {
    points = 35;
    writeOff = true;
  } else return -1;
  const days = dayGap(external, internal);
  if (days > rule.dateWindowDays) return -1;
  points += datePoints(days, rule.dateWindowDays, 25, 10);
  const similarity = nameSimilarity(external, internal);
  const comparable = namesComparable(external, internal);
  if (comparable) points += namePoints(similarity, rule.nameSimilarityMin, 15);
  const sameIban = external.iban !== null && external.iban === internal.iban;
  if (sameIban) points += 10;
  if (rule.nameSimilarityMin > 0 && comparable && similarity < rule.nameSimilarityMin && !sameIban) return -1;
  if (writeOff && !sameIban && similarity < Math.max(rule.nameSimilarityMin, TOLERANCE_NAME_MIN)) return -1;
  return clamp(points + hintPoints(ctx, external, internal));
}

/** hintCriterion's points, without building it. */
function hintPoints(ctx: ScoringContext, external: Prepared, internal: Prepared): number {
  if (ctx.hints.size === 0) return 0;
  return hinted(ctx, external.iban, internal) || hinted(ctx, external.name.key, internal) ? 5 : 0;
}

function hinted(ctx: ScoringContext, key: string | null, internal: Prepared): boolean {
  if (key === null) return false;
  const accounts = ctx.hints.get(key);
  if (accounts === undefined) return false;
  for (const account of internal.contraAccounts) if (accounts.has(account)) return true;
  return false;
}

export interface GroupScoring {
  readonly ruleId: string;
  readonly window: number;
  /** Set for a group found by a shared reference. */
  readonly reference: Reference | null;
}

/** Scores a group whose amounts were already found to add up (exactly, or within the tolerance when allowed). */
export function scoreGroup(ctx: ScoringContext, scoring: GroupScoring, anchor: Prepared, others: readonly Prepared[], companions: readonly Prepared[]): Evaluation {
  const externals = anchor.side === "external" ? [anchor, ...companions] : others;
  const internals = anchor.side === "external" ? others : [anchor, ...companions];
  const difference = sum(externals) - sum(internals);
  const currency = anchor.currency;
  const criteria: Criterion[] = [];
  const fromReference = scoring.reference !== null;
  if (difference === 0n) criteria.push(ctx.criteria.of("amount", "exact", fromReference ? 30 : 50, `amounts add up exactly (${externals.length} external, ${internals.length} internal)`));
  else criteria.push(ctx.criteria.of("amount", "close", fromReference ? 20 : 35, `amounts add up within the tolerance, ${formatAmount(abs(difference), currency)} written off`));
  let spread = 0;
  let label = "date";
  for (const item of [...others, ...companions]) {
    const { days, dateLabel } = dayDistance(anchor, item);
    if (days >= spread) {
      spread = days;
      label = dateLabel;
    }
  }
  if (scoring.reference !== null) {
    criteria.push(criterion("reference", "exact", 60, `${REFERENCE_NAMES[scoring.reference.source]} ${scoring.reference.value} shared by every item`));
    criteria.push(dateCriterion(ctx, spread, `${label} spread`, scoring.window, 10, 0));
  } else {
    criteria.push(dateCriterion(ctx, spread, `${label} spread`, scoring.window, 25, 10));
    let similarity = 0;
    let comparable = 0;
    for (const other of others) {
      if (!namesComparable(anchor, other)) continue;
      similarity += nameSimilarity(anchor, other);
      comparable++;
    }
    if (comparable > 0) criteria.push(nameCriterion(ctx, Math.floor(similarity / comparable), 0, 15));
  }
  const size = externals.length + internals.length;
  if (size > 3) criteria.push(ctx.criteria.of("groupSize", "weak", -2 * (size - 3), `${size} items in the group`));
  return { ruleId: scoring.ruleId, score: total(criteria), criteria, differenceMinor: difference, writeOff: difference !== 0n, partial: null };
}

export function sum(items: readonly Prepared[]): bigint {
  let total = 0n;
  for (const item of items) total += item.amountMinor;
  return total;
}
