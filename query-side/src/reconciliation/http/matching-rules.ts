// A bank account's matching rules: the current version, read from the log
// (the rules' stream's last event), so a GET right after a PUT shows it;
// the account itself must be in the read model (`minPosition` waits for it).
// An account whose rules were never set matches by DEFAULT_MATCHING_RULES,
// shown as version 0.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DEFAULT_MATCHING_RULES, matchingRulesSchema, positionDto } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import type { RouteContext } from "./shared.ts";
import { bankAccountParams, consistency, queryProblems, tags } from "./shared.ts";

/** The current rules of a bank account from the log, or undefined when none were set (command-side readMatchingRules). */
export type MatchingRulesSource = (bankAccountId: string) => Promise<{ readonly version: number; readonly rules: MatchingRules; readonly position: string } | undefined>;

const EXAMPLE = {
  bankAccountId: "acme-eur-main",
  version: 2,
  isDefault: false,
  position: "00000000000002f10000000000000004",
  rules: {
    rules: [
      { kind: "reference", id: "reference", fields: ["endToEndId"], invoicePattern: null, dateWindowDays: 31, allowTolerance: false, allowPartial: false },
      { kind: "amountDate", id: "amount-date", dateWindowDays: 3, nameSimilarityMin: 500, allowTolerance: true },
    ],
    autoConfirmScoreMin: 90,
    tolerance: { absoluteMinor: "500", basisPoints: 0 },
    writeOffAccount: "6800",
  },
};

const rulesDto = z
  .object({
    bankAccountId: z.string(),
    version: z.number().int().meta({ description: "The rules' version: 0 while the account matches by the defaults, then 1, 2, … per change" }),
    isDefault: z.boolean().meta({ description: "True when no rules were set: these are DEFAULT_MATCHING_RULES" }),
    position: positionDto.nullable().meta({ description: "The log position of the version shown; null for the defaults" }),
    rules: matchingRulesSchema,
  })
  .meta({ description: "A bank account's current matching rules", example: EXAMPLE });

export function matchingRulesRoutes(source: MatchingRulesSource) {
  return ({ app: base, guards }: RouteContext & { app: FastifyInstance }): void => {
    const app = base.withTypeProvider<ZodTypeProvider>();
    app.get(
      "/bank-accounts/:bankAccountId/matching-rules",
      {
        schema: {
          tags,
          summary: "Read a bank account's matching rules",
          description: "The current version of the rules the matching engine applies to this account (set with PUT on the same path), or the defaults (version 0) when none were set.",
          params: bankAccountParams,
          querystring: z.strictObject({ ...consistency }),
          response: { 200: rulesDto, ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
        },
      },
      async (request) => {
        await guards.consistent(request.query.minPosition);
        const { bankAccountId } = request.params;
        await guards.bankAccount(bankAccountId);
        const current = await source(bankAccountId);
        if (current === undefined) return { bankAccountId, version: 0, isDefault: true, position: null, rules: DEFAULT_MATCHING_RULES };
        return { bankAccountId, version: current.version, isDefault: false, position: current.position, rules: current.rules };
      },
    );
  };
}
