// Statements: a bank account's list in import order, and one statement with
// every check's outcome (failed ones accepted with acceptFailedChecks are
// listed apart in `failedChecks`, in every answer that shows the statement).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { RouteContext } from "./shared.ts";
import { bankAccountParams, consistency, cursorSchema, decodeCursor, limitSchema, nextCursor, nextCursorDto, queryProblems, statementDto, statementJson, statementParams, tags } from "./shared.ts";

const listQuery = z.strictObject({ cursor: cursorSchema, limit: limitSchema, ...consistency });
const oneQuery = z.strictObject({ ...consistency });

export function statementRoutes({ app: base, reader, guards }: RouteContext & { app: FastifyInstance }): void {
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/bank-accounts/:bankAccountId/statements",
    {
      schema: {
        tags,
        summary: "List a bank account's statements",
        description: "Imported statements in import order, each with its balances, totals and checks. Paged: follow `nextCursor` until it is null.",
        params: bankAccountParams,
        querystring: listQuery,
        response: { 200: z.object({ items: z.array(statementDto), nextCursor: nextCursorDto }).meta({ description: "A page of statements" }), ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      const q = request.query;
      await guards.consistent(q.minPosition);
      const { bankAccountId } = await guards.bankAccount(request.params.bankAccountId);
      const after = decodeCursor(q.cursor, "statements");
      const rows = await reader.statements(bankAccountId, { afterPosition: after?.[0], limit: q.limit });
      return { items: rows.map(statementJson), nextCursor: nextCursor(rows, q.limit, "statements", (last) => [last.position]) };
    },
  );
  app.get(
    "/statements/:statementId",
    {
      schema: {
        tags,
        summary: "Read a statement",
        description: "The statement's header, balances, totals, counts, source file and every check's outcome.",
        params: statementParams,
        querystring: oneQuery,
        response: { 200: statementDto, ...queryProblems("STATEMENT_NOT_FOUND") },
      },
    },
    async (request) => {
      await guards.consistent(request.query.minPosition);
      return statementJson(await guards.statement(request.params.statementId));
    },
  );
}
