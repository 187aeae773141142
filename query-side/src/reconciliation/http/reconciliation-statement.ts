// A signed-off month's bank reconciliation statement, as computed when the
// period was closed (kept in its ReconciliationPeriodClosed): as JSON, or as
// a printable HTML page at the same path with `.html`.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { TrueupError, periodSchema, positionDto, reconciliationStatementDto } from "@trueup/contracts";
import { renderStatementHtml } from "../statement-html.ts";
import type { RouteContext } from "./shared.ts";
import { bankAccountParams, consistency, queryProblems, tags } from "./shared.ts";

const statementQuery = z.strictObject({
  period: periodSchema.meta({ description: "The signed-off month, YYYY-MM", example: "2026-03" }),
  ...consistency,
});

const signedOffDto = z
  .object({ closedBy: z.string(), closedAt: z.string().meta({ format: "date-time" }), position: positionDto, statement: reconciliationStatementDto })
  .meta({ description: "A signed-off period's bank reconciliation statement, and who signed it off" });

async function signedOff(ctx: RouteContext, bankAccountIdParam: string, q: { period: string; minPosition?: string | undefined }) {
  await ctx.guards.consistent(q.minPosition, ["matching"]);
  const { bankAccountId } = await ctx.guards.bankAccount(bankAccountIdParam);
  const found = await ctx.matches.statement(bankAccountId, q.period);
  if (found === undefined) throw new TrueupError("RECONCILIATION_STATEMENT_NOT_FOUND", `bank account ${bankAccountId} has no signed-off statement for ${q.period}`);
  // Stored from the DTO the command built and checked; parsed again so a response can never leak another shape.
  return { closedBy: found.closedBy, closedAt: found.closedAt, position: found.position, statement: reconciliationStatementDto.parse(found.statement) };
}

export function reconciliationStatementRoutes(context: RouteContext & { app: FastifyInstance }): void {
  const app = context.app.withTypeProvider<ZodTypeProvider>();
  const description =
    "Balance per bank statement, − outstanding payments, + deposits in transit = adjusted bank balance; balance per books ± unrecorded fees, charges, interest and receipts = adjusted book balance; the difference (zero, or the period could not have been signed off), and the items a clerk explained.";
  app.get(
    "/bank-accounts/:bankAccountId/reconciliation-statement",
    {
      schema: {
        tags,
        summary: "Read a signed-off period's bank reconciliation statement",
        description: `${description} The same as a printable page: GET /bank-accounts/{id}/reconciliation-statement.html.`,
        params: bankAccountParams,
        querystring: statementQuery,
        response: { 200: signedOffDto, ...queryProblems("BANK_ACCOUNT_NOT_FOUND", "RECONCILIATION_STATEMENT_NOT_FOUND") },
      },
    },
    (request) => signedOff(context, request.params.bankAccountId, request.query),
  );
  app.get(
    "/bank-accounts/:bankAccountId/reconciliation-statement.html",
    {
      schema: {
        tags,
        summary: "Print a signed-off period's bank reconciliation statement",
        description: `${description} A self-contained page (no scripts, no external resources) for printing or archiving.`,
        params: bankAccountParams,
        querystring: statementQuery,
        produces: ["text/html"],
        response: {
          200: { description: "The statement as a printable page", content: { "text/html": { schema: z.string().meta({ example: "<!doctype html><html lang=\"en\"><head><title>Bank reconciliation statement</title>…" }) } } },
          ...queryProblems("BANK_ACCOUNT_NOT_FOUND", "RECONCILIATION_STATEMENT_NOT_FOUND"),
        },
      },
    },
    async (request, reply) => {
      const { statement } = await signedOff(context, request.params.bankAccountId, request.query);
      return reply.type("text/html; charset=utf-8").send(renderStatementHtml(statement));
    },
  );
}
