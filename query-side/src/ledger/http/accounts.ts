// Accounts: the chart of accounts with current balances (paged by code), one
// account, and one account's balance now or as of a date.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { LedgerReader } from "../reader.ts";
import type { QueryGuards } from "./shared.ts";
import { accountDto, accountParams, asOfSchema, balanceDto, balanceOf, consistency, cursorSchema, decodeCursor, encodeCursor, ledgerParams, limitSchema, nextCursorDto, queryProblems, tags } from "./shared.ts";

const accountPage = z
  .object({ items: z.array(accountDto), nextCursor: nextCursorDto })
  .meta({
    description: "A page of accounts in code order",
    example: {
      items: [
        { code: "1000", name: "Cash at bank EUR", type: "asset", currency: "EUR", status: "open", balances: [{ currency: "EUR", debitTotal: "15230.00", creditTotal: "4100.50", balance: "11129.50", side: "debit" }] },
        { code: "4000", name: "Sales", type: "revenue", currency: null, status: "open", balances: [{ currency: "EUR", debitTotal: "0.00", creditTotal: "15230.00", balance: "15230.00", side: "credit" }] },
      ],
      nextCursor: "WyI0MDAwIl0",
    },
  });

const balanceAnswer = z
  .object({ code: z.string().meta({ example: "1000" }), asOf: z.string().nullable().meta({ format: "date", description: "The date asked for, or null for now" }), balances: z.array(balanceDto) })
  .meta({ description: "The account's totals per currency", example: { code: "1000", asOf: "2026-03-31", balances: [{ currency: "EUR", debitTotal: "15230.00", creditTotal: "4100.50", balance: "11129.50", side: "debit" }] } });

export function accountRoutes(options: { app: FastifyInstance; reader: LedgerReader; guards: QueryGuards }): void {
  const app = options.app.withTypeProvider<ZodTypeProvider>();
  const { reader, guards } = options;

  app.get(
    "/ledgers/:ledgerId/accounts",
    {
      schema: {
        tags,
        summary: "List accounts with their balances",
        description: "The ledger's accounts in code order (byte order: \"10\" sorts before \"9\"), each with its current debit and credit totals per currency. Paged: follow `nextCursor` until it is null.",
        params: ledgerParams,
        querystring: z.strictObject({ cursor: cursorSchema, limit: limitSchema, ...consistency }),
        response: { 200: accountPage, ...queryProblems() },
      },
    },
    async (request) => {
      const { ledgerId } = request.params;
      await guards.consistent(ledgerId, request.query.minPosition);
      const afterCode = decodeCursor(request.query.cursor, "code")?.[0];
      const rows = await reader.accounts(ledgerId, { afterCode: afterCode === undefined ? undefined : String(afterCode), limit: request.query.limit });
      const balances = await reader.balances(ledgerId, { codes: rows.map((r) => r.code) });
      const items = rows.map((r) => ({ ...r, balances: balances.filter((b) => b.code === r.code).map(balanceOf) }));
      const last = rows[rows.length - 1];
      return { items, nextCursor: rows.length === request.query.limit && last !== undefined ? encodeCursor([last.code]) : null };
    },
  );

  app.get(
    "/ledgers/:ledgerId/accounts/:code",
    {
      schema: {
        tags,
        summary: "Read one account",
        description: "The account's name, type, currency restriction, status and current totals per currency.",
        params: accountParams,
        querystring: z.strictObject(consistency),
        response: { 200: accountDto, ...queryProblems("ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.params.ledgerId, request.query.minPosition);
      return guards.account(request.params.ledgerId, request.params.code);
    },
  );

  app.get(
    "/ledgers/:ledgerId/accounts/:code/balance",
    {
      schema: {
        tags,
        summary: "Read an account's balance, now or as of a date",
        description: "Debit and credit totals per currency over every posting, or over postings effective up to and including `asOf`.",
        params: accountParams,
        querystring: z.strictObject({ asOf: asOfSchema, ...consistency }),
        response: { 200: balanceAnswer, ...queryProblems("ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.params.ledgerId, request.query.minPosition);
      const found = await guards.account(request.params.ledgerId, request.params.code, request.query.asOf);
      return { code: found.code, asOf: request.query.asOf ?? null, balances: found.balances };
    },
  );
}
