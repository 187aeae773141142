// Bank accounts: a ledger's list, and one account with its last statement,
// closing balance and counts. Only registered-and-listed accounts exist here.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { BankAccountRow } from "../reader.ts";
import type { RouteContext } from "./shared.ts";
import { balanceDto, balanceJson, bankAccountParams, consistency, currencyDto, cursorSchema, dateDto, decodeCursor, ledgerParams, limitSchema, nextCursor, nextCursorDto, queryProblems, tags } from "./shared.ts";

const EXAMPLE = {
  bankAccountId: "acme-eur-main",
  ledgerId: "acme",
  kind: "bank",
  name: "Main EUR account",
  iban: "DE89370400440532013000",
  accountNumber: null,
  bankId: "COBADEFFXXX",
  currency: "EUR",
  ledgerAccount: "1000",
  statementCount: 12,
  lineCount: 5316,
  lastStatement: { statementId: "5f0c6e1a-3b9d-4c2e-8f11-2a7b9c0d4e5f", periodEnd: "2026-01-31", closingBalance: { amount: "12500.00", side: "credit", currency: "EUR", date: "2026-01-31" } },
};

export const bankAccountDto = z
  .object({
    bankAccountId: z.string(),
    ledgerId: z.string(),
    kind: z.string().meta({ enum: ["bank", "psp"] }),
    name: z.string(),
    iban: z.string().nullable(),
    accountNumber: z.string().nullable(),
    bankId: z.string().nullable(),
    currency: currencyDto,
    ledgerAccount: z.string().meta({ description: "The ledger account (cash or clearing) the account's lines are matched against" }),
    statementCount: z.number().int().meta({ description: "Statements imported" }),
    lineCount: z.number().int().meta({ description: "Lines recorded over every statement (each bank line once)" }),
    lastStatement: z
      .object({ statementId: z.string(), periodEnd: dateDto.nullable(), closingBalance: balanceDto.nullable() })
      .nullable()
      .meta({ description: "The statement of the latest period (the latest imported among equal periods; undated ones before dated); null before the first import" }),
  })
  .meta({ description: "A bank or PSP account with its last statement and counts", example: EXAMPLE });

export function bankAccountJson(row: BankAccountRow): z.infer<typeof bankAccountDto> {
  const last = row.lastStatement;
  return { ...row, lastStatement: last === null ? null : { statementId: last.statementId, periodEnd: last.periodEnd, closingBalance: balanceJson(last.closingBalance) } };
}

const listQuery = z.strictObject({ cursor: cursorSchema, limit: limitSchema, ...consistency });
const oneQuery = z.strictObject({ ...consistency });

export function bankAccountRoutes({ app: base, reader, guards }: RouteContext & { app: FastifyInstance }): void {
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/ledgers/:ledgerId/bank-accounts",
    {
      schema: {
        tags,
        summary: "List a ledger's bank accounts",
        description: "The ledger's bank and PSP accounts in id order (an unknown ledger has none). Paged: follow `nextCursor` until it is null.",
        params: ledgerParams,
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(bankAccountDto), nextCursor: nextCursorDto }).meta({ description: "A page of bank accounts", example: { items: [EXAMPLE], nextCursor: null } }), ...queryProblems() },
      },
    },
    async (request) => {
      const q = request.query;
      await guards.consistent(q.minPosition);
      const after = decodeCursor(q.cursor, "bankAccounts");
      const rows = await reader.bankAccounts(request.params.ledgerId, { afterId: after?.[0], limit: q.limit });
      return { items: rows.map(bankAccountJson), nextCursor: nextCursor(rows, q.limit, "bankAccounts", (last) => [last.bankAccountId]) };
    },
  );
  app.get(
    "/bank-accounts/:bankAccountId",
    {
      schema: {
        tags,
        summary: "Read a bank account",
        description: "The account as registered, with its last statement, that statement's closing balance, and how many statements and lines it has.",
        params: bankAccountParams,
        querystring: oneQuery,
        response: { 200: bankAccountDto, ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.query.minPosition);
      return bankAccountJson(await guards.bankAccount(request.params.bankAccountId));
    },
  );
}
