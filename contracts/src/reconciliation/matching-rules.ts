// A bank account's matching rules: what the matching engine may propose, in
// priority order. The first rule (in order) that accepts a pair of items
// scores it; the engine then chooses among all scored proposals globally
// (command-side/src/reconciliation/matching/). Every number here bounds a
// search, so each has a ceiling the engine's budgets were sized for.
//
// No floats: similarities are in permille (0–1000), percentages in basis
// points (1/10,000), amounts in minor units as digit strings.
import { z } from "zod";
import { accountCodeSchema } from "../ledger/events.ts";
import { MATCH_ITEMS_PER_SIDE_MAX, MATCH_REASON_LENGTH_MAX } from "./events.ts";
import { STATEMENT_LINE_LIMITS } from "./line-limits.ts";
import { textSchema, unstorableText } from "../text.ts";
import { dateSchema } from "../calendar.ts";

/** The references of a statement line the reference rule may compare (`invoiceNumber`: extracted from remittance text by the rule's pattern). */
export const MATCH_REFERENCE_FIELDS = ["endToEndId", "bankReference", "customerReference", "creditorReference", "invoiceNumber"] as const;
export type MatchReferenceField = (typeof MATCH_REFERENCE_FIELDS)[number];

export const MATCH_GROUP_SHAPES = ["1:N", "N:1", "N:M"] as const;
export type MatchGroupShape = (typeof MATCH_GROUP_SHAPES)[number];

export const MATCHING_RULE_LIMITS = {
  rulesMax: 16,
  /** Days between the external item's value (or booking) date and the ledger line's date. A year at most for references, a month for everything else. */
  referenceDateWindowDaysMax: 366,
  dateWindowDaysMax: 31,
  /** Items on one side of a grouped match; the subset search is exponential in it. */
  groupSizeMax: 8,
  invoicePatternLengthMax: 200,
  /** 10 %: a larger tolerance is not a match but a guess. */
  toleranceBasisPointsMax: 1_000,
  autoConfirmScoreMinFloor: 50,
  /** Ten years: an ageing limit beyond it is a typo. */
  exceptionAgeingDaysMax: 3_660,
} as const;

const ruleId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit");
const permille = z.number().int().min(0).max(1000);

/**
 * Why a pattern may not be used, or undefined. It must compile (Unicode
 * mode) and must not be able to backtrack exponentially: Node's regular
 * expressions have no time limit, and remittance text is the bank's (or an
 * attacker's) input. Refused: back-references, lookarounds, and a quantified
 * group that itself contains a quantifier or an alternation, the shapes of
 * catastrophic backtracking (`(a+)+`, `(a|aa)*`).
 */
export function invoicePatternProblem(pattern: string): string | undefined {
  const unstorable = unstorableText(pattern);
  if (unstorable !== undefined) return unstorable;
  try {
    new RegExp(pattern, "u");
  } catch (error) {
    return `not a valid regular expression: ${(error as Error).message}`;
  }
  if (/\\[1-9]|\\k</.test(pattern)) return "back-references are not allowed";
  if (/\(\?<?[=!]/.test(pattern)) return "lookarounds are not allowed";
  if (nestedQuantifier(pattern)) return "a quantified group may not contain a quantifier or '|' (exponential backtracking)";
  return undefined;
}

/** True when some group that is followed by a quantifier contains a quantifier or an alternation. Escapes and classes are skipped. */
function nestedQuantifier(pattern: string): boolean {
  const groups: { risky: boolean }[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "[") {
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
      continue;
    }
    if (c === "(") {
      groups.push({ risky: false });
      if (pattern[i + 1] === "?") i = groupModifierEnd(pattern, i + 1);
      continue;
    }
    const quantifier = c === "*" || c === "+" || c === "?" || c === "{";
    if (c === "|" || quantifier) for (const group of groups) group.risky = true;
    if (c === ")") {
      const group = groups.pop();
      const next = pattern[i + 1];
      // `?` only chooses once; `*`, `+` and `{…}` repeat, which is what backtracks exponentially.
      const quantified = next === "*" || next === "+" || next === "{";
      if (group !== undefined && group.risky && quantified) return true;
    }
  }
  return false;
}

/** The index of the last character of a group's `?:` or `?<name>` modifier starting at `at`. */
function groupModifierEnd(pattern: string, at: number): number {
  if (pattern[at + 1] === "<") {
    const close = pattern.indexOf(">", at);
    return close === -1 ? at : close;
  }
  return at + 1;
}

const invoicePattern = z
  .string()
  .min(1)
  .max(MATCHING_RULE_LIMITS.invoicePatternLengthMax)
  .superRefine((pattern, ctx) => {
    const problem = invoicePatternProblem(pattern);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({ description: "A regular expression (Unicode mode) whose first capture group, or whole match, is an invoice number in a statement line's remittance text, description, end-to-end id or customer reference, or in a ledger line's description", example: "INV-?(\\d{4,10})" });

export const referenceRuleSchema = z.strictObject({
  kind: z.literal("reference"),
  id: ruleId,
  /** Which of the line's references are compared with the ledger line's reference (and invoice numbers in its description). */
  fields: z.array(z.enum(MATCH_REFERENCE_FIELDS)).min(1).max(MATCH_REFERENCE_FIELDS.length),
  invoicePattern: invoicePattern.nullable().default(null),
  dateWindowDays: z.number().int().min(0).max(MATCHING_RULE_LIMITS.referenceDateWindowDaysMax).default(31),
  /** Accept an amount difference within the account's tolerance (proposed as a write-off). */
  allowTolerance: z.boolean().default(false),
  /** Same reference, a smaller amount on one side: a partial match that leaves the rest open. */
  allowPartial: z.boolean().default(false),
});

export const amountDateRuleSchema = z.strictObject({
  kind: z.literal("amountDate"),
  id: ruleId,
  dateWindowDays: z.number().int().min(0).max(MATCHING_RULE_LIMITS.dateWindowDaysMax).default(3),
  /** Permille. Counterparties named on both sides (or a name and a ledger description) less similar than this are refused as two parties, unless their IBANs agree; 0: names only add or cost points. */
  nameSimilarityMin: permille.default(0),
  allowTolerance: z.boolean().default(false),
});

export const groupRuleSchema = z.strictObject({
  kind: z.literal("group"),
  id: ruleId,
  shapes: z.array(z.enum(MATCH_GROUP_SHAPES)).min(1).max(MATCH_GROUP_SHAPES.length),
  dateWindowDays: z.number().int().min(0).max(MATCHING_RULE_LIMITS.dateWindowDaysMax).default(3),
  groupSizeMax: z.number().int().min(2).max(MATCHING_RULE_LIMITS.groupSizeMax).default(5),
  allowTolerance: z.boolean().default(false),
});

export const matchingRuleSchema = z.discriminatedUnion("kind", [referenceRuleSchema, amountDateRuleSchema, groupRuleSchema]);
export type MatchingRule = z.infer<typeof matchingRuleSchema>;

const minorDigits = z.string().regex(/^(0|[1-9]\d{0,17})$/, "unsigned minor units as a digit string (at most 18 digits)");

export const matchingRulesSchema = z
  .strictObject({
    rules: z.array(matchingRuleSchema).min(1).max(MATCHING_RULE_LIMITS.rulesMax),
    /** Proposals scoring at least this (and not ambiguous, not partial) are confirmed without a clerk; null: never. */
    autoConfirmScoreMin: z.number().int().min(MATCHING_RULE_LIMITS.autoConfirmScoreMinFloor).max(100).nullable().default(90),
    tolerance: z
      .strictObject({
        absoluteMinor: minorDigits.default("0"),
        basisPoints: z.number().int().min(0).max(MATCHING_RULE_LIMITS.toleranceBasisPointsMax).default(0),
      })
      .default({ absoluteMinor: "0", basisPoints: 0 }),
    /** Where a tolerated difference is written off; required when any rule allows tolerance. */
    writeOffAccount: accountCodeSchema.nullable().default(null),
    /** An item unmatched for longer than this many days (from its date) is an exception. */
    exceptionAgeingDays: z.number().int().min(1).max(MATCHING_RULE_LIMITS.exceptionAgeingDaysMax).default(30),
    /** Continuous reconciliation: a new statement or a posting on the account's ledger account starts a run over the items it may match. */
    continuous: z.boolean().default(true),
  })
  .superRefine((rules, ctx) => {
    const seen = new Set<string>();
    rules.rules.forEach((rule, index) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: "custom", message: `rule id "${rule.id}" is used twice`, path: ["rules", index, "id"] });
      seen.add(rule.id);
      if (rule.allowTolerance && rules.writeOffAccount === null) {
        ctx.addIssue({ code: "custom", message: "a rule that allows tolerance needs a writeOffAccount for the difference", path: ["rules", index, "allowTolerance"] });
      }
      if (rule.kind === "reference" && rule.fields.includes("invoiceNumber") && rule.invoicePattern === null) {
        ctx.addIssue({ code: "custom", message: "comparing invoiceNumber needs an invoicePattern to extract it", path: ["rules", index, "invoicePattern"] });
      }
    });
  });
export type MatchingRules = z.infer<typeof matchingRulesSchema>;

/** What a bank account matches by until its rules are edited. */
export const DEFAULT_MATCHING_RULES: MatchingRules = matchingRulesSchema.parse({
  rules: [
    { kind: "reference", id: "reference", fields: ["endToEndId", "bankReference", "customerReference", "creditorReference"] },
    { kind: "amountDate", id: "amount-date", dateWindowDays: 3 },
    { kind: "group", id: "group", shapes: ["1:N", "N:1"], dateWindowDays: 3, groupSizeMax: 5 },
  ],
});

/**
 * PUT /bank-accounts/{id}/matching-rules: the rules, and optionally the
 * version they were edited from. With `expectedVersion`, the change lands
 * only on that version (0: none set yet), so two clerks editing at once do
 * not overwrite each other silently; without it, the change is the next
 * version whatever came before.
 */
export const setMatchingRulesBody = z.strictObject({
  rules: matchingRulesSchema,
  expectedVersion: z.number().int().min(0).max(2_147_483_647).optional(),
});
export type SetMatchingRulesBody = z.infer<typeof setMatchingRulesBody>;

/** A match's id within its bank account, as a client may choose it; the full id is `<bankAccountId>:<this>`. */
export const localMatchIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit");

/** An item id, checked to be storable: it is looked up in PostgreSQL text columns, which cannot hold U+0000. */
const itemId = z
  .string()
  .min(1)
  .max(STATEMENT_LINE_LIMITS.lineIdLengthMax)
  .superRefine((id, ctx) => {
    const problem = unstorableText(id);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

const itemIds = z
  .array(itemId)
  .min(1)
  .max(MATCH_ITEMS_PER_SIDE_MAX)
  .refine((ids) => new Set(ids).size === ids.length, "an item may be listed once");

/** POST /bank-accounts/{id}/matches: a clerk's match of chosen items (statement line ids; ledger lines as `<entryId>:<0-based line index>`). */
export const manualMatchBody = z.strictObject({
  matchId: localMatchIdSchema.optional(),
  externalIds: itemIds,
  internalIds: itemIds,
  reason: textSchema({ lengthMax: MATCH_REASON_LENGTH_MAX }).optional(),
});
export type ManualMatchBody = z.infer<typeof manualMatchBody>;

/** POST /matches/{matchId}/reject and /unmatch: why. */
export const matchReasonBody = z.strictObject({ reason: textSchema({ lengthMax: MATCH_REASON_LENGTH_MAX }) });

/** POST /bank-accounts/{id}/reconciliation-runs: match the account's open items dated in [from, to] (both optional); `dryRun` proposes without recording. */
export const reconciliationRunBody = z
  .strictObject({
    dryRun: z.boolean().default(false),
    from: dateSchema.optional(),
    to: dateSchema.optional(),
  })
  .refine((body) => body.from === undefined || body.to === undefined || body.from <= body.to, { message: "from is after to", path: ["to"] });
export type ReconciliationRunBody = z.infer<typeof reconciliationRunBody>;

/** POST /exceptions/{exceptionId}/resolve: write the item off to an account, ignore it (with why), or hand it to someone. */
export const resolveExceptionBody = z.discriminatedUnion("resolution", [
  z.strictObject({ resolution: z.literal("write-off"), ledgerAccount: accountCodeSchema, reason: textSchema({ lengthMax: MATCH_REASON_LENGTH_MAX }).optional() }),
  z.strictObject({ resolution: z.literal("ignore"), reason: textSchema({ lengthMax: MATCH_REASON_LENGTH_MAX }) }),
  z.strictObject({ resolution: z.literal("reassign"), assignee: textSchema({ lengthMax: 200 }), reason: textSchema({ lengthMax: MATCH_REASON_LENGTH_MAX }).optional() }),
]);
export type ResolveExceptionBody = z.infer<typeof resolveExceptionBody>;
