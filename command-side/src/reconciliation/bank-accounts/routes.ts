// The bank accounts' command API: registering one. Like every command it needs
// an Idempotency-Key (http/command-runner.ts): a retry gets the same answer,
// and the same bank account id when the client let the server choose it.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ledgerIdSchema, problemResponses, registerBankAccountBody } from "@trueup/contracts";
import type { IdempotencyStore } from "../../idempotency.ts";
import type { InFlight } from "../../in-flight.ts";
import { EVERY_COMMAND_PROBLEMS, commandRouteSchema, commandRunner, outcomeFields } from "../../http/command-runner.ts";
import type { BankAccountCommandService } from "./service.ts";

export interface BankAccountCommandRoutesDeps {
  readonly service: BankAccountCommandService;
  readonly idempotency: IdempotencyStore;
  readonly inFlight?: InFlight | undefined;
}

const accepted = z.object({
  bankAccountId: z.string().meta({ description: "The bank account's id (chosen by the client, or derived from the Idempotency-Key)", example: "ba_main_eur" }),
  ledgerId: z.string().meta({ description: "The ledger the bank account belongs to", example: "acme" }),
  ...outcomeFields,
});

const REGISTER_DOCS = {
  summary: "Register a bank or PSP account",
  description:
    "Registers a bank account (or a payment provider's account) of the ledger, linked to the ledger account its lines are reconciled against. " +
    "At least one of `iban` / `accountNumber`; an IBAN is checked (country, length, mod-97) and stored without spaces. " +
    "Identifiers are unique per ledger (compared without spaces and case): a statement file's account is routed by them. " +
    "`ledgerAccount` must be an open account of the ledger taking the bank account's currency. `bankAccountId` is optional (derived from the Idempotency-Key otherwise). " +
    "Needs an `Idempotency-Key` header; a retry with the same key and body answers the first answer again (`Idempotent-Replayed: true`).",
  body: { bankAccountId: "ba_main_eur", kind: "bank", name: "Main account EUR", iban: "DE89 3704 0044 0532 0130 00", bankId: "COBADEFFXXX", currency: "EUR", ledgerAccount: "1000" },
  answer: { bankAccountId: "ba_main_eur", ledgerId: "acme", revision: "0", position: "00000000000002f10000000000000004", replayed: false },
  problems: problemResponses(
    [
      ...EVERY_COMMAND_PROBLEMS,
      "IBAN_INVALID",
      "CURRENCY_UNKNOWN",
      "LEDGER_NOT_FOUND",
      "ACCOUNT_NOT_FOUND",
      "ACCOUNT_CLOSED",
      "ACCOUNT_CURRENCY_MISMATCH",
      "BANK_ACCOUNT_ALREADY_EXISTS",
      "BANK_ACCOUNT_IDENTIFIER_TAKEN",
      "BANK_ACCOUNTS_LIMIT_REACHED",
    ],
    {
      IBAN_INVALID: { detail: "body/iban: the check digits do not match the rest of the IBAN (mod-97 check failed): a character is mistyped", in: "body", path: "/iban" },
      BANK_ACCOUNT_IDENTIFIER_TAKEN: { detail: "IBAN DE89370400440532013000 is bank account ba_old's in ledger acme", in: "body", path: "/iban" },
    },
  ),
} as const;

export function bankAccountCommandRoutes(deps: BankAccountCommandRoutesDeps) {
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const schema = commandRouteSchema({ tags: ["reconciliation commands"], params: z.object({ ledgerId: ledgerIdSchema }), body: registerBankAccountBody, status: 201, answer: accepted, done: "Registered", docs: REGISTER_DOCS });
    app.post("/ledgers/:ledgerId/bank-accounts", { schema }, (request, reply) => {
      const { ledgerId } = request.params;
      return run(request, reply, { scope: ledgerId, status: 201, execute: async (ctx) => ({ ledgerId, ...(await deps.service.register(ctx, ledgerId, request.body)) }) });
    });
  };
}
