// A match's case file, from the document read model the cases projection
// writes (MongoDB, or PostgreSQL JSONB without it): its explanation, where
// its write-off stands, and its history — every event of the match with who
// acted, when and why, the newest CASE_HISTORY_KEEP_LAST (200) of them
// (older ones counted in historyDropped). The stored document is checked against the
// case schema where it is read: a document that does not fit is a bug of the
// projection, answered as one (500), never passed on half-understood.
// The stored write-off is three fields of progress beside its plan (an event
// of the log carries only part of it, see projections/src/cases/plan.ts);
// the answer assembles them into one `writeOff`.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { POSITION_PATTERN, TrueupError, WRITE_OFF_STATUSES, matchIdSchema, positionDto } from "@trueup/contracts";
import { MATCH_STATUSES } from "../match-reader.ts";
import { signedAmount } from "./matches.ts";
import type { RouteContext } from "./shared.ts";
import { consistency, currencyDto, dateDto, queryProblems, tags } from "./shared.ts";

const STATUSES = MATCH_STATUSES as ["suggested", "confirmed", "rejected", "unmatched"];
const SIGNED_MINOR = /^-?(0|[1-9]\d*)$/;

// --- the stored document (what the cases projection writes) ------------------------

const storedCaseSchema = z.object({
  matchId: z.string(),
  bankAccountId: z.string(),
  runId: z.string().nullable(),
  kind: z.string(),
  status: z.enum(STATUSES),
  automatic: z.boolean(),
  ruleId: z.string().nullable(),
  score: z.number().int(),
  ambiguous: z.boolean(),
  criteria: z.array(z.object({ criterion: z.string(), grade: z.string(), points: z.number().int(), reason: z.string() })),
  externalIds: z.array(z.string()),
  internalIds: z.array(z.string()),
  currency: z.string(),
  differenceMinor: z.string().regex(SIGNED_MINOR),
  residual: z.object({ side: z.enum(["external", "internal"]), itemId: z.string(), amountMinor: z.string().regex(SIGNED_MINOR) }).nullable(),
  writeOff: z.object({ amountMinor: z.string().regex(SIGNED_MINOR), account: z.string(), date: z.string().nullable() }).nullable(),
  writeOffStatus: z.enum(WRITE_OFF_STATUSES).nullable(),
  writeOffEntryId: z.string().nullable(),
  // Case files written before reversals existed lack it.
  writeOffReversalEntryId: z.string().nullable().default(null),
  writeOffError: z.string().nullable(),
  history: z.array(z.object({ type: z.string(), position: z.string().regex(POSITION_PATTERN), at: z.string(), actor: z.string(), reason: z.string().nullable(), automatic: z.boolean() })),
  historyDropped: z.number().int().min(0),
});
type StoredCase = z.infer<typeof storedCaseSchema>;

// --- the answer -------------------------------------------------------------------

const signedAmountDto = z.string().regex(/^-?\d+(\.\d+)?$/).meta({ description: "Signed decimal amount in the currency's exponent: positive is money into the bank account", example: "-2.50" });
const signedMinorDto = z.string().regex(SIGNED_MINOR).meta({ description: "The same amount in signed minor units, digits", example: "-250" });

const CASE_EXAMPLE = {
  matchId: "acme-eur-main:p-1f2e3d",
  bankAccountId: "acme-eur-main",
  runId: "run-5b1c",
  kind: "1:1",
  status: "rejected",
  automatic: false,
  ruleId: "amount-date",
  score: 86,
  ambiguous: false,
  criteria: [{ criterion: "amount", grade: "exact", points: 0, reason: "amount exact" }],
  externalIds: ["ref:2026013100042#1"],
  internalIds: ["e-2026-000123:0"],
  currency: "EUR",
  difference: "0.00",
  differenceMinor: "0",
  residual: null,
  writeOff: null,
  history: [
    { type: "MatchProposed", position: "00000000000002f10000000000000004", at: "2026-02-01T09:00:00.000Z", actor: "clerk:ana", reason: null, automatic: true },
    { type: "MatchRejected", position: "00000000000002f40000000000000001", at: "2026-02-01T10:12:00.000Z", actor: "clerk:bo", reason: "another customer's payment", automatic: false },
  ],
  historyDropped: 0,
};

const historyEntryDto = z
  .object({
    type: z.string().meta({ description: "The event: MatchProposed (a run's auto-confirmed proposal too: its reason says so), MatchConfirmed, MatchRejected, MatchUnmatched, WriteOffRequested, WriteOffPosted or WriteOffRefused" }),
    position: positionDto,
    at: z.string().meta({ format: "date-time", description: "When the event was recorded" }),
    actor: z.string().meta({ description: "Who acted: the clerk, or the system user of a run or of the write-off process" }),
    reason: z.string().nullable().meta({ description: "Why: a clerk's reason for a rejection or an unmatch, the ledger's refusal of a write-off" }),
    automatic: z.boolean().meta({ description: "Done by the system (a run's proposal or auto-confirmation, the write-off process), not decided by a clerk" }),
  })
  .meta({ description: "One event of the match" });

const caseFileDto = z
  .object({
    matchId: z.string(),
    bankAccountId: z.string(),
    runId: z.string().nullable().meta({ description: "The run that proposed it; null for a clerk's manual match" }),
    kind: z.string().meta({ enum: ["1:1", "1:N", "N:1", "N:M"] }),
    status: z.enum(STATUSES),
    automatic: z.boolean().meta({ description: "Confirmed by the run itself (score at the account's auto-confirm threshold)" }),
    ruleId: z.string().nullable(),
    score: z.number().int().meta({ description: "0-100" }),
    ambiguous: z.boolean().meta({ description: "An equally good alternative exists: never auto-confirmed" }),
    criteria: z.array(z.object({ criterion: z.string(), grade: z.string(), points: z.number().int(), reason: z.string() })).meta({ description: "Each criterion of the score with its grade, points and reason" }),
    externalIds: z.array(z.string()),
    internalIds: z.array(z.string()),
    currency: currencyDto,
    difference: signedAmountDto.meta({ description: "Σ external − Σ internal: zero, a write-off, or a partial match's residual" }),
    differenceMinor: signedMinorDto,
    residual: z.object({ side: z.enum(["external", "internal"]), itemId: z.string(), amount: signedAmountDto, amountMinor: signedMinorDto }).nullable(),
    writeOff: z
      .object({
        amount: signedAmountDto,
        amountMinor: signedMinorDto,
        account: z.string().meta({ description: "The ledger account the difference is written off to" }),
        date: dateDto.nullable().meta({ description: "The write-off's effective date" }),
        status: z.enum(WRITE_OFF_STATUSES).nullable().meta({ description: "null until confirmed; then requested, and posted to the ledger or refused by it; after an unmatch, reversing, then reversed or reversal-refused" }),
        entryId: z.string().nullable().meta({ description: "The write-off's journal entry in the ledger" }),
        reversalEntryId: z.string().nullable().meta({ description: "The entry reversing it, once its match was unmatched" }),
        error: z.string().nullable().meta({ description: "Why the ledger refused it (or its reversal)" }),
      })
      .nullable(),
    history: z.array(historyEntryDto).meta({ description: "The match's events in log order, the newest 200" }),
    historyDropped: z.number().int().meta({ description: "Older events no longer in `history` (a case file's history is bounded)" }),
  })
  .meta({ description: "A match's case file: its explanation, its write-off and its history", example: CASE_EXAMPLE });

function caseFileJson(c: StoredCase): z.infer<typeof caseFileDto> {
  const amounts = (amountMinor: string): { amount: string; amountMinor: string } => ({ amount: signedAmount(BigInt(amountMinor), c.currency), amountMinor });
  return {
    matchId: c.matchId,
    bankAccountId: c.bankAccountId,
    runId: c.runId,
    kind: c.kind,
    status: c.status,
    automatic: c.automatic,
    ruleId: c.ruleId,
    score: c.score,
    ambiguous: c.ambiguous,
    criteria: c.criteria,
    externalIds: c.externalIds,
    internalIds: c.internalIds,
    currency: c.currency,
    difference: signedAmount(BigInt(c.differenceMinor), c.currency),
    differenceMinor: c.differenceMinor,
    residual: c.residual === null ? null : { side: c.residual.side, itemId: c.residual.itemId, ...amounts(c.residual.amountMinor) },
    writeOff:
      c.writeOff === null
        ? null
        : { ...amounts(c.writeOff.amountMinor), account: c.writeOff.account, date: c.writeOff.date, status: c.writeOffStatus, entryId: c.writeOffEntryId, reversalEntryId: c.writeOffReversalEntryId, error: c.writeOffError },
    history: c.history,
    historyDropped: c.historyDropped,
  };
}

const matchParams = z.strictObject({ matchId: matchIdSchema.meta({ description: "The match's id", example: CASE_EXAMPLE.matchId }) });

export function caseRoutes({ app: base, cases, guards }: RouteContext & { app: FastifyInstance }): void {
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/matches/:matchId/case",
    {
      schema: {
        tags,
        summary: "Read a match's case file",
        description:
          "The match's case file: its score and the reason for each criterion, its items' ids, its difference and where its write-off stands, and its history — every event of the match in log order with who acted, when and why (the newest 200; `historyDropped` counts older ones). Pass `minPosition` (a decision's answer) to read the case file with that decision in it.",
        params: matchParams,
        querystring: z.strictObject({ ...consistency }),
        response: { 200: caseFileDto, ...queryProblems("MATCH_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.query.minPosition, ["cases"]);
      const { matchId } = request.params;
      const found = await cases.matchCase(matchId);
      if (found === undefined) throw new TrueupError("MATCH_NOT_FOUND", `no match ${matchId}`);
      const stored = storedCaseSchema.safeParse(found);
      // A broken invariant, not bad input: the projection wrote a case file this build cannot read.
      if (!stored.success) throw new Error(`the case file of match ${matchId} does not fit the case schema: ${stored.error.message}`);
      return caseFileJson(stored.data);
    },
  );
}
