// Statement lines, the external items: one statement's in line order, and a
// bank account's over every statement in date order (booking date, else
// value date), between two dates and by status. Only lines of imported
// statements exist here: a crashed import's lines are never listed.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { dateSchema, documentedDate } from "@trueup/contracts";
import { LINE_MATCH_STATUSES } from "../reader.ts";
import type { RouteContext } from "./shared.ts";
import { bankAccountParams, checkDto, consistency, cursorSchema, decodeCursor, limitSchema, lineDto, lineJson, nextCursor, nextCursorDto, queryProblems, statementParams, tags } from "./shared.ts";

export const LINE_STATUSES = [...LINE_MATCH_STATUSES, "all"] as const;

const statementLinesQuery = z.strictObject({ cursor: cursorSchema, limit: limitSchema, ...consistency });

const accountLinesQuery = z
  .strictObject({
    from: documentedDate(dateSchema, "First date included (booking date, else value date); omit for no start", "2026-01-01").optional(),
    to: documentedDate(dateSchema, "Last date included; omit for no end", "2026-01-31").optional(),
    status: z.enum(LINE_STATUSES).default("all").meta({ description: "`unmatched`: lines in no live match; `suggested`: in a suggested match; `matched`: in a confirmed match; `all` (default): every line" }),
    cursor: cursorSchema,
    limit: limitSchema,
    ...consistency,
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { message: "from must not be after to", path: ["from"] });

const statementLinesPage = z
  .object({
    statementId: z.string(),
    acceptedWithFailedChecks: z.boolean(),
    failedChecks: z.array(checkDto).meta({ description: "The checks that failed, when the import accepted them" }),
    items: z.array(lineDto),
    nextCursor: nextCursorDto,
  })
  .meta({ description: "A page of a statement's lines in line order" });

const accountLinesPage = z.object({ items: z.array(lineDto), nextCursor: nextCursorDto }).meta({ description: "A page of the account's lines in date order" });

export function lineRoutes({ app: base, reader, guards }: RouteContext & { app: FastifyInstance }): void {
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/statements/:statementId/lines",
    {
      schema: {
        tags,
        summary: "List a statement's lines",
        description: "The lines this statement recorded, in file order. Paged: follow `nextCursor` until it is null.",
        params: statementParams,
        querystring: statementLinesQuery,
        response: { 200: statementLinesPage, ...queryProblems("STATEMENT_NOT_FOUND") },
      },
    },
    async (request) => {
      const q = request.query;
      await guards.consistent(q.minPosition);
      const statement = await guards.statement(request.params.statementId);
      const after = decodeCursor(q.cursor, "statementLines");
      const rows = await reader.statementLines(statement.statementId, { afterLineNumber: after?.[0], limit: q.limit });
      return {
        statementId: statement.statementId,
        acceptedWithFailedChecks: statement.acceptedWithFailedChecks,
        failedChecks: statement.checks.filter((c) => c.status === "failed"),
        items: rows.map(lineJson),
        nextCursor: nextCursor(rows, q.limit, "statementLines", (last) => [last.lineNumber]),
      };
    },
  );
  app.get(
    "/bank-accounts/:bankAccountId/lines",
    {
      schema: {
        tags,
        summary: "List a bank account's lines",
        description:
          "Every recorded line of the account, over all its statements, in date order (booking date, else value date; then import order and line number), from `from` to `to` inclusive. A line with neither date is in no range: it comes first when both are omitted. Paged: follow `nextCursor` until it is null.",
        params: bankAccountParams,
        querystring: accountLinesQuery,
        response: { 200: accountLinesPage, ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      const q = request.query;
      await guards.consistent(q.minPosition);
      const { bankAccountId } = await guards.bankAccount(request.params.bankAccountId);
      const after = decodeCursor(q.cursor, "accountLines");
      const rows = await reader.accountLines(bankAccountId, {
        from: q.from,
        to: q.to,
        status: q.status === "all" ? undefined : q.status,
        after: after === undefined ? undefined : { sortDate: after[0], position: after[1], lineNumber: after[2] },
        limit: q.limit,
      });
      return { items: rows.map(lineJson), nextCursor: nextCursor(rows, q.limit, "accountLines", (last) => [last.sortKey.sortDate, last.sortKey.position, last.sortKey.lineNumber]) };
    },
  );
}
