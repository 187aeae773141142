// Journal entries, in effective-date then posting order, optionally between
// two dates and touching one account. Paged by (effective date, position).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { EXAMPLE_ENTRY, accountCodeSchema, dateSchema, documentedDate, positionDto } from "@trueup/contracts";
import type { LedgerReader } from "../reader.ts";
import type { QueryGuards } from "./shared.ts";
import { amount, consistency, currencyDto, cursorSchema, dateDto, decodeCursor, encodeCursor, fmt, ledgerParams, limitSchema, nextCursorDto, queryProblems, sideDto, tags } from "./shared.ts";

const entriesQuery = z.strictObject({
  from: documentedDate(dateSchema, "First effective date included", "2026-03-01").optional(),
  to: documentedDate(dateSchema, "Last effective date included", "2026-03-31").optional(),
  account: accountCodeSchema.optional().meta({ description: "Only entries with a line on this account (404 if the ledger has no such account)", example: "1000" }),
  cursor: cursorSchema,
  limit: limitSchema,
  ...consistency,
});

const entryDto = z.object({
  entryId: z.string().meta({ example: "INV-2026-0042" }),
  effectiveDate: dateDto,
  description: z.string().meta({ example: "Invoice 42, Müller GmbH" }),
  externalReference: z.string().nullable().meta({ example: "INV-42" }),
  metadata: z.record(z.string(), z.string()).meta({ example: { customer: "mueller-gmbh" } }),
  lines: z.array(z.object({ account: z.string().meta({ example: "1200" }), side: sideDto, amount, currency: currencyDto })),
  reverses: z.string().nullable().meta({ description: "The entry this one reverses, if it is a reversal", example: null }),
  reversedBy: z.string().nullable().meta({ description: "The reversal of this entry, once reversed", example: null }),
  position: positionDto,
});

const entriesPage = z.object({ items: z.array(entryDto), nextCursor: nextCursorDto }).meta({
  description: "A page of journal entries in effective-date then posting order",
  example: {
    items: [
      {
        ...EXAMPLE_ENTRY,
        reverses: null,
        reversedBy: null,
        position: "00000000000002f10000000000000004",
      },
    ],
    nextCursor: "WyIyMDI2LTAzLTAzIiwiMDAwMDAwMDAwMDAwMDJmMTAwMDAwMDAwMDAwMDAwMDQiXQ",
  },
});

export function entryRoutes(options: { app: FastifyInstance; reader: LedgerReader; guards: QueryGuards }): void {
  const app = options.app.withTypeProvider<ZodTypeProvider>();
  const { reader, guards } = options;

  app.get(
    "/ledgers/:ledgerId/journal-entries",
    {
      schema: {
        tags,
        summary: "List journal entries",
        description: "Posted entries (reversals included) in effective-date then posting order, optionally between `from` and `to` (inclusive) and only those with a line on `account`. Paged: follow `nextCursor` until it is null.",
        params: ledgerParams,
        querystring: entriesQuery,
        response: { 200: entriesPage, ...queryProblems("ACCOUNT_NOT_FOUND") },
      },
    },
    async (request) => {
      const { ledgerId } = request.params;
      const q = request.query;
      await guards.consistent(ledgerId, q.minPosition);
      // An unknown account filters every entry out: say so rather than answer an empty page.
      if (q.account !== undefined) await guards.requireAccount(ledgerId, q.account);
      const after = decodeCursor(q.cursor, "day-position");
      const rows = await reader.entries(ledgerId, { from: q.from, to: q.to, account: q.account, after: after === undefined ? undefined : { day: String(after[0]), position: String(after[1]) }, limit: q.limit });
      const items = rows.map((e) => ({ ...e, lines: e.lines.map((l) => ({ account: l.accountCode, side: l.side, amount: fmt(BigInt(l.amountMinor), l.currency), currency: l.currency })) }));
      const last = rows[rows.length - 1];
      return { items, nextCursor: rows.length === q.limit && last !== undefined ? encodeCursor([last.effectiveDate, last.position]) : null };
    },
  );
}
