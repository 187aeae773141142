// The matching rules' command API: setting a bank account's rules, as the
// next version. Like every command it needs an Idempotency-Key
// (http/command-runner.ts): a retry gets the same answer and version.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { bankAccountIdSchema, problemResponses, setMatchingRulesBody } from "@trueup/contracts";
import type { IdempotencyStore } from "../../idempotency.ts";
import type { InFlight } from "../../in-flight.ts";
import { EVERY_COMMAND_PROBLEMS, commandRouteSchema, commandRunner, outcomeFields } from "../../http/command-runner.ts";
import type { MatchingRulesCommandService } from "./service.ts";

export interface MatchingRulesCommandRoutesDeps {
  readonly service: MatchingRulesCommandService;
  readonly idempotency: IdempotencyStore;
  readonly inFlight?: InFlight | undefined;
}

const accepted = z.object({
  bankAccountId: z.string().meta({ description: "The bank account whose rules were set", example: "ba_main_eur" }),
  version: z.number().int().meta({ description: "The rules' version now: 1 for the first rules set, one more per change", example: 2 }),
  ...outcomeFields,
});

const SET_DOCS = {
  summary: "Set a bank account's matching rules",
  description:
    "Replaces the bank account's matching rules with a new version (the old versions stay in the log). `rules.rules` lists the rules in priority order: " +
    "`reference` (end-to-end id, bank, customer or creditor reference, or an invoice number found in remittance text by `invoicePattern`; patterns that could " +
    "backtrack exponentially are refused), `amountDate` (amount, date window, counterparty name similarity in permille) and `group` (1:N, N:1, N:M by bounded " +
    "subset-sum). `tolerance` (absolute minor units and basis points) applies to rules with `allowTolerance`, whose differences are written off to " +
    "`writeOffAccount`: an open account of the bank account's ledger in its currency, not the bank account's own ledger account. Proposals scoring at least " +
    "`autoConfirmScoreMin` (null: never) are confirmed without a clerk. With `expectedVersion` (0: no rules set yet) the change lands only on that version. " +
    "Needs an `Idempotency-Key` header; a retry with the same key and body answers the first answer again (`Idempotent-Replayed: true`).",
  body: {
    expectedVersion: 1,
    rules: {
      rules: [
        { kind: "reference", id: "reference", fields: ["endToEndId", "invoiceNumber"], invoicePattern: "INV-?(\\d{4,10})", dateWindowDays: 31 },
        { kind: "amountDate", id: "amount-date", dateWindowDays: 3, nameSimilarityMin: 500, allowTolerance: true },
        { kind: "group", id: "group", shapes: ["1:N", "N:1"], dateWindowDays: 3, groupSizeMax: 5 },
      ],
      autoConfirmScoreMin: 90,
      tolerance: { absoluteMinor: "500", basisPoints: 0 },
      writeOffAccount: "6800",
    },
  },
  answer: { bankAccountId: "ba_main_eur", version: 2, revision: "1", position: "00000000000002f10000000000000004", replayed: false },
  problems: problemResponses([...EVERY_COMMAND_PROBLEMS, "BANK_ACCOUNT_NOT_FOUND", "MATCHING_RULES_VERSION_CONFLICT", "LEDGER_NOT_FOUND", "ACCOUNT_NOT_FOUND", "ACCOUNT_CLOSED", "ACCOUNT_CURRENCY_MISMATCH"], {
    VALIDATION_FAILED: { detail: "body/rules/rules/0/invoicePattern: a quantified group may not contain a quantifier or '|' (exponential backtracking)", in: "body", path: "/rules/rules/0/invoicePattern" },
    MATCHING_RULES_VERSION_CONFLICT: { detail: "bank account ba_main_eur's matching rules are at version 2, not 1", in: "body", path: "/expectedVersion" },
    ACCOUNT_NOT_FOUND: { detail: "no account 6800 in ledger acme", in: "body", path: "/rules/writeOffAccount" },
  }),
} as const;

export function matchingRulesCommandRoutes(deps: MatchingRulesCommandRoutesDeps) {
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const schema = commandRouteSchema({ tags: ["reconciliation commands"], params: z.object({ bankAccountId: bankAccountIdSchema }), body: setMatchingRulesBody, status: 200, answer: accepted, done: "Set as the next version", docs: SET_DOCS });
    app.put("/bank-accounts/:bankAccountId/matching-rules", { schema }, (request, reply) => {
      const { bankAccountId } = request.params;
      return run(request, reply, { scope: bankAccountId, status: 200, execute: async (ctx) => ({ bankAccountId, ...(await deps.service.set(ctx, bankAccountId, request.body)) }) });
    });
  };
}
