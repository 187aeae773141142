// An item's case file: what a clerk needs to settle one statement line or
// ledger line — the item itself, what holds it now (its live match, or the
// exception that resolved it: the matching read model), the last run's near
// misses (the closest candidates, each with its items and why it was not
// proposed) and the decisions that touched it (from the item-cases document
// read model, see projections/src/cases/items.ts). An item no run or
// decision has touched has no document yet: its case file is the item and
// its status, with no near misses and an empty history.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { POSITION_PATTERN, TrueupError, bankAccountIdSchema, matchItemIdSchema, positionDto } from "@trueup/contracts";
import { accountItems, itemDto, itemJson, signedAmount, signedAmountDto, signedMinorDto } from "./matches.ts";
import type { ReadModel, RouteContext } from "./shared.ts";
import { consistency, dateDto, queryProblems, tags } from "./shared.ts";

const SIDES = ["external", "internal"] as const;
const SIGNED_MINOR = /^-?(0|[1-9]\d*)$/;
const READ_MODELS: readonly ReadModel[] = ["reconciliation", "matching", "itemCases"];

// --- the stored document (what the item-cases projection writes) ---------------------

const storedItemCaseSchema = z.object({
  bankAccountId: z.string(),
  side: z.enum(SIDES),
  itemId: z.string(),
  nearMisses: z
    .object({
      runId: z.string(),
      position: z.string().regex(POSITION_PATTERN),
      at: z.string(),
      candidates: z.array(z.object({ itemIds: z.array(z.string()).min(1), score: z.number().int(), failures: z.array(z.string()) })),
    })
    .nullable()
    .default(null),
  resolution: z
    .object({
      exceptionId: z.string(),
      kind: z.string(),
      resolution: z.enum(["write-off", "ignore"]),
      reason: z.string().nullable(),
      writeOff: z.object({ amountMinor: z.string().regex(SIGNED_MINOR), account: z.string(), date: z.string() }).nullable(),
      position: z.string().regex(POSITION_PATTERN),
      at: z.string(),
      actor: z.string(),
    })
    .nullable()
    .default(null),
  history: z
    .array(
      z.object({
        type: z.string(),
        position: z.string().regex(POSITION_PATTERN),
        at: z.string(),
        actor: z.string(),
        reason: z.string().nullable(),
        matchId: z.string().nullable(),
        exceptionId: z.string().nullable(),
        detail: z.string().nullable(),
      }),
    )
    .default([]),
  historyDropped: z.number().int().min(0).default(0),
});

// --- the answer -------------------------------------------------------------------------

const candidateDto = z
  .object({
    itemIds: z.array(z.string()).meta({ description: "The candidate's items, on the other side" }),
    score: z.number().int().meta({ description: "0-100: what the pair scored (below the rules' minimum, or kept out by a better total)" }),
    failures: z.array(z.string()).meta({ description: "Why it was not proposed: each criterion a rule failed, or the proposal that took the candidate" }),
    items: z.array(itemDto).meta({ description: "The candidate's items as they stand in the read models (one the read models no longer show is absent)" }),
  })
  .meta({ description: "A candidate that came close" });

const ITEM_CASE_EXAMPLE = {
  bankAccountId: "acme-eur-main",
  side: "external",
  itemId: "ref:2026013100042#1",
  item: { side: "external", itemId: "ref:2026013100042#1", amount: "120.00", amountMinor: "12000", currency: "EUR", date: "2026-01-31", reference: "INV-1042", description: "ACME GMBH INV-1042", counterpartyName: "ACME GmbH" },
  status: "open",
  matchId: null,
  exceptionId: null,
  nearMisses: {
    runId: "run-5b1c",
    position: "00000000000002f10000000000000004",
    at: "2026-02-01T09:00:00.000Z",
    candidates: [{ itemIds: ["e-2026-000123:0"], score: 61, failures: ["amount-date: value date 6 days apart (window 3)"], items: [] }],
  },
  resolution: null,
  history: [{ type: "MatchRejected", position: "00000000000002f40000000000000001", at: "2026-02-01T10:12:00.000Z", actor: "clerk:bo", reason: "another customer's payment", matchId: "acme-eur-main:p-1f2e3d", exceptionId: null, detail: null }],
  historyDropped: 0,
};

const itemCaseDto = z
  .object({
    bankAccountId: z.string(),
    side: z.enum(SIDES),
    itemId: z.string(),
    item: itemDto,
    status: z.enum(["open", "suggested", "confirmed", "resolved"]).meta({ description: "open: in no live match and not resolved; suggested or confirmed: in that live match (matchId); resolved: settled by an exception (exceptionId)" }),
    matchId: z.string().nullable().meta({ description: "The live match holding the item: its own case file is GET /matches/{matchId}/case" }),
    exceptionId: z.string().nullable().meta({ description: "The exception whose resolution settled the item" }),
    nearMisses: z
      .object({
        runId: z.string().meta({ description: "The run that found them (the latest that left the item open)" }),
        position: positionDto,
        at: z.string().meta({ format: "date-time" }),
        candidates: z.array(candidateDto).meta({ description: "Best first; empty: no candidate near the item's amount, reference, counterparty or dates" }),
      })
      .nullable()
      .meta({ description: "The closest candidates of the last run that left the item open; null when no recorded run has" }),
    resolution: z
      .object({
        exceptionId: z.string(),
        kind: z.string().meta({ description: "The exception's kind: aged, duplicate or amount-mismatch" }),
        resolution: z.enum(["write-off", "ignore"]),
        reason: z.string().nullable(),
        writeOff: z.object({ amount: signedAmountDto, amountMinor: signedMinorDto, account: z.string().meta({ description: "The ledger account it was written off to" }), date: dateDto }).nullable(),
        at: z.string().meta({ format: "date-time" }),
        actor: z.string(),
      })
      .nullable(),
    history: z
      .array(
        z.object({
          type: z.string().meta({ description: "MatchRejected or MatchUnmatched (a match of the item, which opened it again), ItemResolved, ExceptionReassigned" }),
          position: positionDto,
          at: z.string().meta({ format: "date-time" }),
          actor: z.string(),
          reason: z.string().nullable(),
          matchId: z.string().nullable(),
          exceptionId: z.string().nullable(),
          detail: z.string().nullable().meta({ description: "A resolution's kind (write-off, ignore), a reassignment's assignee" }),
        }),
      )
      .meta({ description: "The decisions that touched the item, in log order, the newest 100" }),
    historyDropped: z.number().int().meta({ description: "Older decisions no longer in `history`" }),
  })
  .meta({ description: "An item's case file", example: ITEM_CASE_EXAMPLE });

const itemParams = z.strictObject({
  bankAccountId: bankAccountIdSchema.meta({ description: "The bank account's id", example: "acme-eur-main" }),
  side: z.enum(SIDES).meta({ description: "external: a statement line; internal: a ledger line on the account's ledger account" }),
  itemId: matchItemIdSchema.refine((id) => !id.includes("\u0000"), "no U+0000").meta({ description: "The item's id as the unmatched list or a match gives it (URL-encoded)", example: "e-2026-000123:0" }),
});

export function itemCaseRoutes({ app: base, matches, cases, guards }: RouteContext & { app: FastifyInstance }): void {
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/bank-accounts/:bankAccountId/items/:side/:itemId/case",
    {
      schema: {
        tags,
        summary: "Read an item's case file",
        description:
          "One statement line (external) or ledger line (internal) of the bank account with what settles it: whether a live match holds it, the closest candidates the last run found for it while it was open and why each was not proposed, and the decisions that touched it (its matches rejected or unmatched, its exception resolved or reassigned). Pass `minPosition` (a run's or decision's answer) to read it with that in it.",
        params: itemParams,
        querystring: z.strictObject({ ...consistency }),
        response: { 200: itemCaseDto, ...queryProblems("BANK_ACCOUNT_NOT_FOUND", "MATCH_ITEM_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.query.minPosition, READ_MODELS);
      const { bankAccountId, side, itemId } = request.params;
      const account = accountItems(await guards.bankAccount(bankAccountId));
      const only = (ids: readonly string[], of: typeof side) => ({ externalIds: of === "external" ? ids : [], internalIds: of === "internal" ? ids : [] });
      const [found, holder, document] = await Promise.all([matches.matchItems(account, only([itemId], side)), matches.holder(bankAccountId, side, itemId), cases.itemCase(bankAccountId, side, itemId)]);
      const item = found[0];
      if (item === undefined) throw new TrueupError("MATCH_ITEM_NOT_FOUND", `no ${side} item ${itemId} in bank account ${bankAccountId}`, { path: ["itemId"] });
      const parsed = storedItemCaseSchema.safeParse(document ?? { bankAccountId, side, itemId });
      // A broken invariant, not bad input: the projection wrote a case file this build cannot read.
      if (!parsed.success) throw new Error(`the case file of ${side} item ${itemId} does not fit the item case schema: ${parsed.error.message}`);
      const stored = parsed.data;
      const other = side === "external" ? "internal" : "external";
      const candidateIds = [...new Set(stored.nearMisses?.candidates.flatMap((c) => c.itemIds) ?? [])];
      const candidateItems = new Map((candidateIds.length === 0 ? [] : await matches.matchItems(account, only(candidateIds, other))).map((i) => [i.itemId, i]));
      const resolution = stored.resolution;
      return {
        bankAccountId,
        side,
        itemId,
        item: itemJson(item),
        status: holder === undefined ? ("open" as const) : holder.status,
        matchId: holder !== undefined && holder.status !== "resolved" ? holder.id : null,
        exceptionId: holder?.status === "resolved" ? holder.id : null,
        nearMisses:
          stored.nearMisses === null
            ? null
            : {
                runId: stored.nearMisses.runId,
                position: stored.nearMisses.position,
                at: stored.nearMisses.at,
                candidates: stored.nearMisses.candidates.map((c) => ({
                  ...c,
                  items: c.itemIds.flatMap((id) => {
                    const row = candidateItems.get(id);
                    return row === undefined ? [] : [itemJson(row)];
                  }),
                })),
              },
        resolution:
          resolution === null
            ? null
            : {
                exceptionId: resolution.exceptionId,
                kind: resolution.kind,
                resolution: resolution.resolution,
                reason: resolution.reason,
                writeOff: resolution.writeOff === null ? null : { amount: signedAmount(BigInt(resolution.writeOff.amountMinor), item.currency), ...resolution.writeOff },
                at: resolution.at,
                actor: resolution.actor,
              },
        history: stored.history,
        historyDropped: stored.historyDropped,
      };
    },
  );
}
