// Matches and what is left to match, from the matching read model: one
// match with its items, explanation and history; a bank account's matches
// by status; a recorded run; the open items of either side; and the
// account's summary. Amounts are decimal strings in the currency's exponent
// with their minor units beside them; a signed amount is positive for money
// into the bank account. Reads wait for both read models (`minPosition`)
// where they join them: a run's answer names a recon position, an import's
// a bank account position, and either may be passed.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { TrueupError, WRITE_OFF_STATUSES, dateSchema, daysBetween, documentedDate, formatDigits, matchIdSchema, positionDto, statementCurrencyOf, todayUtc } from "@trueup/contracts";
import { MATCH_STATUSES } from "../match-reader.ts";
import type { AccountItems, DecisionRow, ItemRow, MatchRow, RunRow, SideSummary } from "../match-reader.ts";
import type { BankAccountRow } from "../reader.ts";
import type { ReadModel, RouteContext } from "./shared.ts";
import { bankAccountParams, consistency, currencyDto, cursorSchema, dateDto, decodeCursor, limitSchema, nextCursor, nextCursorDto, queryProblems, tags } from "./shared.ts";

const BOTH: readonly ReadModel[] = ["reconciliation", "matching"];

/** Signed minor units as a decimal string in the currency's exponent (see fmt in shared.ts for an unknown code). */
export function signedAmount(amountMinor: bigint, currency: string): string {
  const exponent = statementCurrencyOf(currency)?.exponent ?? 0;
  const digits = formatDigits((amountMinor < 0n ? -amountMinor : amountMinor).toString(), exponent);
  return amountMinor < 0n ? `-${digits}` : digits;
}

export const signedAmountDto = z.string().regex(/^-?\d+(\.\d+)?$/).meta({ description: "Signed decimal amount in the currency's exponent: positive is money into the bank account", example: "-2.50" });
export const signedMinorDto = z.string().regex(/^-?\d+$/).meta({ description: "The same amount in signed minor units", example: "-250" });
const statusDto = z.enum(MATCH_STATUSES as ["suggested", "confirmed", "rejected", "unmatched"]);

const criterionDto = z
  .object({ criterion: z.string(), grade: z.string(), points: z.number().int(), reason: z.string() })
  .meta({ description: "One criterion of the score: its grade, its points and why", example: { criterion: "date", grade: "close", points: -4, reason: "value date +2 days (window 3)" } });

export const itemDto = z
  .object({
    side: z.enum(["external", "internal"]).meta({ description: "external: a statement line; internal: a ledger line on the account's ledger account" }),
    itemId: z.string().meta({ description: "A statement line's id, or `<entryId>:<line index>` (0-based) of a ledger line", example: "e-2026-000123:0" }),
    amount: signedAmountDto,
    amountMinor: signedMinorDto,
    currency: currencyDto,
    date: dateDto.nullable().meta({ description: "Booking date (else value date) of a statement line; effective date of a ledger line" }),
    reference: z.string().nullable(),
    description: z.string().nullable(),
    counterpartyName: z.string().nullable(),
  })
  .meta({ description: "An item as a clerk judges it" });

const MATCH_EXAMPLE = {
  matchId: "acme-eur-main:p-1f2e3d",
  bankAccountId: "acme-eur-main",
  runId: "run-5b1c",
  kind: "1:1",
  status: "suggested",
  automatic: false,
  score: 86,
  ambiguous: false,
  ruleId: "amount-date",
  criteria: [{ criterion: "amount", grade: "exact", points: 0, reason: "amount exact" }],
  currency: "EUR",
  difference: "0.00",
  differenceMinor: "0",
  writeOff: null,
  residual: null,
  externalIds: ["ref:2026013100042#1"],
  internalIds: ["e-2026-000123:0"],
  proposed: { position: "00000000000002f10000000000000004", at: "2026-02-01T09:00:00.000Z", by: "clerk@acme" },
  decided: null,
};

const matchDto = z
  .object({
    matchId: z.string(),
    bankAccountId: z.string(),
    runId: z.string().nullable().meta({ description: "The run that proposed it; null for a clerk's manual match" }),
    kind: z.string().meta({ enum: ["1:1", "1:N", "N:1", "N:M"] }),
    status: statusDto,
    automatic: z.boolean().meta({ description: "Confirmed by the run itself (score at the account's auto-confirm threshold)" }),
    score: z.number().int().meta({ description: "0-100" }),
    ambiguous: z.boolean().meta({ description: "An equally good alternative exists: never auto-confirmed" }),
    ruleId: z.string().nullable(),
    criteria: z.array(criterionDto),
    currency: currencyDto,
    difference: signedAmountDto.meta({ description: "Σ external − Σ internal: zero, a write-off, or a partial match's residual" }),
    differenceMinor: signedMinorDto,
    writeOff: z
      .object({
        amount: signedAmountDto,
        amountMinor: signedMinorDto,
        ledgerAccount: z.string(),
        status: z.enum(WRITE_OFF_STATUSES).nullable().meta({ description: "null until confirmed; then requested, and posted to the ledger or refused by it; after an unmatch, reversing, then reversed or reversal-refused" }),
        entryId: z.string().nullable().meta({ description: "The write-off's journal entry in the ledger" }),
        reversalEntryId: z.string().nullable().meta({ description: "The entry reversing it, once its match was unmatched" }),
        error: z.string().nullable().meta({ description: "Why the ledger refused it" }),
      })
      .nullable(),
    residual: z.object({ side: z.enum(["external", "internal"]), itemId: z.string(), amount: signedAmountDto, amountMinor: signedMinorDto }).nullable(),
    externalIds: z.array(z.string()),
    internalIds: z.array(z.string()),
    proposed: z.object({ position: positionDto, at: z.string().meta({ format: "date-time" }), by: z.string() }),
    decided: z.object({ position: positionDto, at: z.string().meta({ format: "date-time" }), by: z.string(), reason: z.string().nullable() }).nullable().meta({ description: "Its last decision: confirmed, rejected or unmatched" }),
  })
  .meta({ description: "A match and its explanation", example: MATCH_EXAMPLE });

const decisionDto = z
  .object({ type: z.string(), position: positionDto, at: z.string().meta({ format: "date-time" }), actor: z.string(), automatic: z.boolean(), reason: z.string().nullable(), correlationId: z.string() })
  .meta({ description: "One event of the match, with who made it and why" });

const caseDto = matchDto.extend({ items: z.array(itemDto), history: z.array(decisionDto) }).meta({ description: "A match with its items and its history" });

function matchJson(m: MatchRow): z.infer<typeof matchDto> {
  return {
    matchId: m.matchId,
    bankAccountId: m.bankAccountId,
    runId: m.runId,
    kind: m.kind,
    status: m.status,
    automatic: m.automatic,
    score: m.score,
    ambiguous: m.ambiguous,
    ruleId: m.ruleId,
    criteria: [...m.criteria],
    currency: m.currency,
    difference: signedAmount(m.differenceMinor, m.currency),
    differenceMinor: m.differenceMinor.toString(),
    writeOff: m.writeOff === null ? null : { ...m.writeOff, amount: signedAmount(m.writeOff.amountMinor, m.currency), amountMinor: m.writeOff.amountMinor.toString() },
    residual: m.residual === null ? null : { side: m.residual.side, itemId: m.residual.itemId, amount: signedAmount(m.residual.amountMinor, m.currency), amountMinor: m.residual.amountMinor.toString() },
    externalIds: [...m.externalIds],
    internalIds: [...m.internalIds],
    proposed: m.proposed,
    decided: m.decided,
  };
}

export function itemJson(i: ItemRow): z.infer<typeof itemDto> {
  return {
    side: i.side,
    itemId: i.itemId,
    amount: signedAmount(i.amountMinor, i.currency),
    amountMinor: i.amountMinor.toString(),
    currency: i.currency,
    date: i.date,
    reference: i.reference,
    description: i.description,
    counterpartyName: i.counterpartyName,
  };
}

const decisionJson = (d: DecisionRow): z.infer<typeof decisionDto> => ({ ...d });

const runDto = z
  .object({
    runId: z.string(),
    bankAccountId: z.string(),
    window: z.object({ from: dateDto.nullable(), to: dateDto.nullable() }),
    items: z.object({ external: z.number().int(), internal: z.number().int() }).meta({ description: "Open items the run read per side" }),
    proposals: z.record(z.string(), z.number().int()).meta({ description: "Proposals the engine made, by kind" }),
    autoConfirmed: z.number().int(),
    suggested: z.number().int(),
    ambiguous: z.number().int(),
    conflicts: z.number().int().meta({ description: "Proposals left out: an item was taken between the run's read and its write" }),
    bounds: z.array(z.object({ bound: z.string(), times: z.number().int(), detail: z.string() })).meta({ description: "Every bound that cut a search short; empty when none did" }),
    actor: z.string(),
    position: positionDto,
    recordedAt: z.string().meta({ format: "date-time" }),
    now: z.array(z.object({ kind: z.string(), status: statusDto, count: z.number().int() })).meta({ description: "The run's matches as they stand now, by kind and status" }),
  })
  .meta({ description: "A recorded reconciliation run" });

const runJson = (r: RunRow): z.infer<typeof runDto> => ({ ...r, proposals: { ...r.proposals }, bounds: r.bounds.map((b) => ({ ...b })), now: r.now.map((n) => ({ ...n })) });

const sideSummaryDto = z.object({
  total: z.number().int(),
  matched: z.number().int().meta({ description: "In a confirmed match" }),
  suggested: z.number().int().meta({ description: "In a match awaiting a clerk" }),
  resolved: z.number().int().meta({ description: "Settled without a match: written off or ignored (a resolved exception)" }),
  unmatched: z.number().int().meta({ description: "In no live match and not resolved" }),
  matchedPercent: z.string().meta({ description: "matched / total, in percent with two decimals, rounded down (100.00 when there are no items)", example: "97.25" }),
  settledPercent: z.string().meta({ description: "(matched + resolved) / total: how much needs nothing more from a clerk", example: "99.10" }),
  unmatchedIn: z.string().meta({ description: "Σ of unmatched money into the account" }),
  unmatchedOut: z.string().meta({ description: "Σ of unmatched money out of the account" }),
  oldestUnmatchedDate: dateDto.nullable(),
  oldestUnmatchedAgeDays: z.number().int().nullable().meta({ description: "Days from the oldest unmatched item's date to asOf" }),
});

const summaryDto = z
  .object({ bankAccountId: z.string(), currency: currencyDto, asOf: dateDto, external: sideSummaryDto, internal: sideSummaryDto })
  .meta({ description: "How far a bank account is reconciled, per side" });

/** Two decimals, rounded down: 99.999 % is not yet 100.00. */
function percent(part: number, whole: number): string {
  if (whole === 0) return "100.00";
  const hundredths = (BigInt(part) * 10_000n) / BigInt(whole);
  return formatDigits(hundredths.toString(), 2);
}


function sideJson(s: SideSummary, currency: string, asOf: string): z.infer<typeof sideSummaryDto> {
  return {
    total: s.total,
    matched: s.matched,
    suggested: s.suggested,
    resolved: s.resolved,
    unmatched: s.unmatched,
    matchedPercent: percent(s.matched, s.total),
    settledPercent: percent(s.matched + s.resolved, s.total),
    unmatchedIn: signedAmount(s.unmatchedInMinor, currency),
    unmatchedOut: signedAmount(s.unmatchedOutMinor, currency),
    oldestUnmatchedDate: s.oldestUnmatchedDate,
    oldestUnmatchedAgeDays: s.oldestUnmatchedDate === null ? null : daysBetween(s.oldestUnmatchedDate, asOf),
  };
}

export const accountItems = (a: BankAccountRow): AccountItems => ({ bankAccountId: a.bankAccountId, ledgerId: a.ledgerId, ledgerAccount: a.ledgerAccount, currency: a.currency });

const matchParams = z.strictObject({ matchId: matchIdSchema.meta({ description: "The match's id", example: MATCH_EXAMPLE.matchId }) });
const runParams = z.strictObject({ runId: matchIdSchema.meta({ description: "The run's id, as the run answered", example: "run-5b1c" }) });
const matchesQuery = z.strictObject({
  status: statusDto.optional().meta({ description: "Only matches in this status; omit for all" }),
  cursor: cursorSchema,
  limit: limitSchema,
  ...consistency,
});
const unmatchedQuery = z
  .strictObject({
    side: z.enum(["external", "internal"]).meta({ description: "external: statement lines; internal: ledger lines on the account's ledger account" }),
    from: documentedDate(dateSchema, "First date included; omit for no start", "2026-01-01").optional(),
    to: documentedDate(dateSchema, "Last date included; omit for no end", "2026-01-31").optional(),
    cursor: cursorSchema,
    limit: limitSchema,
    ...consistency,
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { message: "from must not be after to", path: ["from"] });
const summaryQuery = z.strictObject({
  asOf: documentedDate(dateSchema, "The date ages are counted to; default today (UTC)", "2026-02-01").optional(),
  ...consistency,
});


export function matchRoutes({ app: base, matches, guards }: RouteContext & { app: FastifyInstance }): void {
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/matches/:matchId",
    {
      schema: {
        tags,
        summary: "Read a match",
        description: "One match with its score and the reason for each criterion, its items (amounts, dates, references) and its history: who proposed, confirmed, rejected or unmatched it, and why.",
        params: matchParams,
        querystring: z.strictObject({ ...consistency }),
        response: { 200: caseDto, ...queryProblems("MATCH_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.query.minPosition, BOTH);
      const match = await matches.match(request.params.matchId);
      if (match === undefined) throw new TrueupError("MATCH_NOT_FOUND", `no match ${request.params.matchId}`);
      const account = await guards.bankAccount(match.bankAccountId);
      const [items, history] = await Promise.all([matches.matchItems(accountItems(account), match), matches.decisions(match.matchId)]);
      return { ...matchJson(match), items: items.map(itemJson), history: history.map(decisionJson) };
    },
  );
  app.get(
    "/bank-accounts/:bankAccountId/matches",
    {
      schema: {
        tags,
        summary: "List a bank account's matches",
        description: "The account's matches in id order, of one status when `status` is given. Paged: follow `nextCursor` until it is null.",
        params: bankAccountParams,
        querystring: matchesQuery,
        response: { 200: z.object({ items: z.array(matchDto), nextCursor: nextCursorDto }), ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      const q = request.query;
      await guards.consistent(q.minPosition, BOTH);
      const { bankAccountId } = await guards.bankAccount(request.params.bankAccountId);
      const after = decodeCursor(q.cursor, "matches");
      const rows = await matches.matches(bankAccountId, { status: q.status, afterId: after?.[0], limit: q.limit });
      return { items: rows.map(matchJson), nextCursor: nextCursor(rows, q.limit, "matches", (last) => [last.matchId]) };
    },
  );
  app.get(
    "/reconciliation-runs/:runId",
    {
      schema: {
        tags,
        summary: "Read a reconciliation run",
        description: "What a recorded run read, proposed (by kind), confirmed and suggested, the bounds that cut its search, and its matches by kind and status now. A dry run records nothing.",
        params: runParams,
        querystring: z.strictObject({ ...consistency }),
        response: { 200: runDto, ...queryProblems("RECONCILIATION_RUN_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.query.minPosition, ["matching"]);
      const run = await matches.run(request.params.runId);
      if (run === undefined) throw new TrueupError("RECONCILIATION_RUN_NOT_FOUND", `no recorded run ${request.params.runId}`);
      return runJson(run);
    },
  );
  app.get(
    "/bank-accounts/:bankAccountId/unmatched",
    {
      schema: {
        tags,
        summary: "List a bank account's open items",
        description:
          "Items of one side in no live match (neither suggested nor confirmed), in date order, from `from` to `to` inclusive. external: statement lines (an undated line is in no range and comes first without one); internal: ledger lines on the account's ledger account in its currency. Paged: follow `nextCursor` until it is null.",
        params: bankAccountParams,
        querystring: unmatchedQuery,
        response: { 200: z.object({ side: z.enum(["external", "internal"]), items: z.array(itemDto), nextCursor: nextCursorDto }), ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      const q = request.query;
      await guards.consistent(q.minPosition, BOTH);
      const account = await guards.bankAccount(request.params.bankAccountId);
      const after = decodeCursor(q.cursor, "unmatched");
      if (after !== undefined && after[0] !== q.side) {
        throw new TrueupError("VALIDATION_FAILED", "querystring/cursor: a cursor of the other side; pass the nextCursor of the previous page of the same query", { path: ["cursor"], in: "querystring" });
      }
      const rows = await matches.unmatched(accountItems(account), q.side, {
        from: q.from,
        to: q.to,
        after: after === undefined ? undefined : { date: after[1], position: after[2], lineNumber: after[3] },
        limit: q.limit,
      });
      return { side: q.side, items: rows.map(itemJson), nextCursor: nextCursor(rows, q.limit, "unmatched", (last) => [q.side, last.sortKey.date, last.sortKey.position, last.sortKey.lineNumber]) };
    },
  );
  app.get(
    "/bank-accounts/:bankAccountId/summary",
    {
      schema: {
        tags,
        summary: "Summarise a bank account's reconciliation",
        description: "Per side: items, matched (confirmed), suggested, resolved (written off or ignored) and unmatched counts, the matched and settled percentages, the unmatched amounts in and out, and the oldest unmatched item's date and age.",
        params: bankAccountParams,
        querystring: summaryQuery,
        response: { 200: summaryDto, ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      const q = request.query;
      await guards.consistent(q.minPosition, BOTH);
      const account = await guards.bankAccount(request.params.bankAccountId);
      const asOf = q.asOf ?? todayUtc();
      const summary = await matches.summary(accountItems(account));
      return {
        bankAccountId: account.bankAccountId,
        currency: account.currency,
        asOf,
        external: sideJson(summary.external, account.currency, asOf),
        internal: sideJson(summary.internal, account.currency, asOf),
      };
    },
  );
}
