// A bank account's exceptions queue: open items aged past the account's
// limit, suspected duplicates and amount mismatches (exception-reader.ts),
// found when asked, in date order, each with the id its resolution takes
// (POST /exceptions/{exceptionId}/resolve on the command side).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DEFAULT_MATCHING_RULES, EXCEPTION_KINDS, dateSchema, daysBetween, documentedDate, todayUtc } from "@trueup/contracts";
import type { ExceptionReader, ExceptionRow } from "../exception-reader.ts";
import type { MatchingRulesSource } from "./matching-rules.ts";
import { signedAmount } from "./matches.ts";
import type { RouteContext } from "./shared.ts";
import { bankAccountParams, consistency, currencyDto, cursorSchema, dateDto, decodeCursor, limitSchema, nextCursor, nextCursorDto, queryProblems, tags } from "./shared.ts";

const exceptionDto = z
  .object({
    exceptionId: z.string().meta({ description: "Pass to POST /exceptions/{exceptionId}/resolve", example: "ba_main~aged~external~cmVmOklOVi05IzE" }),
    kind: z.enum(EXCEPTION_KINDS).meta({ description: "aged: unmatched past the account's ageing limit; duplicate: same amount, date and reference as another line; amount-mismatch: a ledger line has its reference with another amount" }),
    side: z.enum(["external", "internal"]),
    itemId: z.string(),
    amount: z.string().regex(/^-?\d+(\.\d+)?$/).meta({ description: "Signed decimal amount: positive is money into the bank account", example: "-15.00" }),
    amountMinor: z.string().regex(/^-?\d+$/).meta({ description: "The same amount in signed minor units", example: "-1500" }),
    currency: currencyDto,
    date: dateDto.nullable(),
    ageDays: z.number().int().nullable().meta({ description: "Days from the item's date to asOf" }),
    reference: z.string().nullable(),
    description: z.string().nullable(),
    assignee: z.string().nullable().meta({ description: "Who it was reassigned to, if anyone" }),
  })
  .meta({ description: "An exception: an open item that needs a clerk" });

const exceptionsQuery = z.strictObject({
  kind: z.enum(EXCEPTION_KINDS).optional().meta({ description: "Only exceptions of this kind" }),
  asOf: documentedDate(dateSchema, "The date ages are counted to; default today (UTC)", "2026-02-01").optional(),
  cursor: cursorSchema,
  limit: limitSchema,
  ...consistency,
});


function exceptionJson(e: ExceptionRow, asOf: string): z.infer<typeof exceptionDto> {
  return {
    exceptionId: e.exceptionId,
    kind: e.kind,
    side: e.side,
    itemId: e.itemId,
    amount: signedAmount(e.amountMinor, e.currency),
    amountMinor: e.amountMinor.toString(),
    currency: e.currency,
    date: e.date,
    ageDays: e.date === null ? null : daysBetween(e.date, asOf),
    reference: e.reference,
    description: e.description,
    assignee: e.assignee,
  };
}

export function exceptionRoutes(source: { readonly exceptions: ExceptionReader; readonly matchingRules: MatchingRulesSource }) {
  return ({ app: base, guards }: RouteContext & { app: FastifyInstance }): void => {
    const app = base.withTypeProvider<ZodTypeProvider>();
    app.get(
      "/bank-accounts/:bankAccountId/exceptions",
      {
        schema: {
          tags,
          summary: "List a bank account's exceptions",
          description:
            "Open items that need a clerk, in date order: `aged` (unmatched longer than the account's `exceptionAgeingDays`, counted to `asOf`), `duplicate` (a statement line with the same amount, direction, date and reference as another), `amount-mismatch` (a ledger line carries the line's reference with another amount). An item leaves the list once it is matched or resolved. Paged: follow `nextCursor` until it is null.",
          params: bankAccountParams,
          querystring: exceptionsQuery,
          response: { 200: z.object({ asOf: dateDto, ageingDays: z.number().int(), items: z.array(exceptionDto), nextCursor: nextCursorDto }), ...queryProblems("BANK_ACCOUNT_NOT_FOUND") },
        },
      },
      async (request) => {
        const q = request.query;
        await guards.consistent(q.minPosition, ["reconciliation", "matching"]);
        const account = await guards.bankAccount(request.params.bankAccountId);
        const asOf = q.asOf ?? todayUtc();
        const ageingDays = ((await source.matchingRules(account.bankAccountId))?.rules ?? DEFAULT_MATCHING_RULES).exceptionAgeingDays;
        const after = decodeCursor(q.cursor, "exceptions");
        const rows = await source.exceptions.exceptions(
          { bankAccountId: account.bankAccountId, ledgerId: account.ledgerId, ledgerAccount: account.ledgerAccount, currency: account.currency },
          { asOf, ageingDays, kind: q.kind, limit: q.limit, after: after === undefined ? undefined : { date: after[0], kind: after[1], side: after[2], itemId: after[3] } },
        );
        return {
          asOf,
          ageingDays,
          items: rows.map((row) => exceptionJson(row, asOf)),
          nextCursor: nextCursor(rows, q.limit, "exceptions", (last) => [last.sortKey.date, last.sortKey.kind, last.sortKey.side, last.sortKey.itemId]),
        };
      },
    );
  };
}
