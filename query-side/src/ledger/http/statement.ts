// An account statement: its lines in one currency between two dates, each
// with the running balance, after an opening balance. Paged by (effective
// date, position, line): the running balance carries across pages.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { dateSchema, documentedDate } from "@trueup/contracts";
import type { LedgerReader, StatementKey, StatementLineKey } from "../reader.ts";
import type { QueryGuards } from "./shared.ts";
import { accountParams, amount, consistency, cursorSchema, dateDto, decodeCursor, encodeCursor, fmt, limitSchema, nextCursorDto, queryCurrencySchema, queryProblems, sideDto, tags } from "./shared.ts";

/** The widest range a statement covers when `from` or `to` is left out. */
const STATEMENT_DATES = { from: "0001-01-01", to: "9999-12-31" } as const;

const statementQuery = z
  .strictObject({
    from: documentedDate(dateSchema, "First effective date included; omit for the beginning", "2026-03-01").optional(),
    to: documentedDate(dateSchema, "Last effective date included; omit for no end", "2026-03-31").optional(),
    currency: queryCurrencySchema.optional().meta({ description: "The statement's currency; omit for the account's own, or its first with postings", example: "EUR" }),
    cursor: cursorSchema,
    limit: limitSchema,
    ...consistency,
  })
  .refine((q) => (q.from ?? STATEMENT_DATES.from) <= (q.to ?? STATEMENT_DATES.to), { message: "from must not be after to", path: ["from"] });

const statementAnswer = z
  .object({
    code: z.string().meta({ example: "1000" }),
    currency: z.string().meta({ example: "EUR" }),
    openingBalance: z.object({ balance: amount, side: sideDto }).meta({ description: "Net of every line effective before `from`" }),
    lines: z.array(
      z.object({
        entryId: z.string().meta({ example: "INV-2026-0042" }),
        effectiveDate: dateDto,
        description: z.string().meta({ example: "Invoice 42, Müller GmbH" }),
        side: sideDto,
        amount,
        runningBalance: amount,
        runningSide: sideDto,
      }),
    ),
    nextCursor: nextCursorDto,
  })
  .meta({
    description: "One page of the statement",
    example: {
      code: "1000",
      currency: "EUR",
      openingBalance: { balance: "10000.00", side: "debit" },
      lines: [
        { entryId: "INV-2026-0042", effectiveDate: "2026-03-03", description: "Invoice 42, Müller GmbH", side: "debit", amount: "1190.00", runningBalance: "11190.00", runningSide: "debit" },
        { entryId: "PAY-2026-0107", effectiveDate: "2026-03-05", description: "Rent March", side: "credit", amount: "2400.00", runningBalance: "8790.00", runningSide: "debit" },
      ],
      nextCursor: null,
    },
  });

const signed = (net: bigint, currency: string) => ({ value: fmt(net < 0n ? -net : net, currency), side: net < 0n ? ("credit" as const) : ("debit" as const) });

/** The running balance just before the cursor's line: every day before it, and that day's lines before it. */
async function netBeforeLine(reader: LedgerReader, statement: StatementKey, line: StatementLineKey): Promise<bigint> {
  const before = await reader.netBefore({ ...statement, beforeDate: line.day });
  return before + (await reader.netWithinDayBefore({ ...statement, before: { ...line, lineNo: line.lineNo + 1 } }));
}

export function statementRoutes(options: { app: FastifyInstance; reader: LedgerReader; guards: QueryGuards }): void {
  const app = options.app.withTypeProvider<ZodTypeProvider>();
  const { reader, guards } = options;

  app.get(
    "/ledgers/:ledgerId/accounts/:code/statement",
    {
      schema: {
        tags,
        summary: "Read an account statement with running balances",
        description:
          "The account's lines in one currency, effective between `from` and `to` (inclusive), in effective-date then posting order, each with the running balance after it; the opening balance is the net of every line before `from`. Paged: the running balance carries over to the next page.",
        params: accountParams,
        querystring: statementQuery,
        response: { 200: statementAnswer, ...queryProblems("ACCOUNT_NOT_FOUND", "CURRENCY_UNKNOWN") },
      },
    },
    async (request) => {
      const { ledgerId, code } = request.params;
      const q = request.query;
      await guards.consistent(ledgerId, q.minPosition);
      const found = await guards.account(ledgerId, code);
      const currency = q.currency ?? found.currency ?? (await reader.currenciesOf(ledgerId, code))[0] ?? (await reader.ledger(ledgerId))?.baseCurrency ?? "EUR";
      const statement: StatementKey = { ledgerId, code, currency };
      const from = q.from ?? STATEMENT_DATES.from;
      const after = decodeCursor(q.cursor, "day-position-line");
      const afterLine = after === undefined ? undefined : { day: String(after[0]), position: String(after[1]), lineNo: Number(after[2]) };
      const opening = await reader.netBefore({ ...statement, beforeDate: from });
      let running = afterLine === undefined ? opening : await netBeforeLine(reader, statement, afterLine);
      const rows = await reader.statementLines({ ...statement, from, to: q.to ?? STATEMENT_DATES.to, after: afterLine, limit: q.limit });
      const lines = rows.map((row) => {
        running += row.side === "debit" ? row.amountMinor : -row.amountMinor;
        const r = signed(running, currency);
        return { entryId: row.entryId, effectiveDate: row.effectiveDate, description: row.description, side: row.side, amount: fmt(row.amountMinor, currency), runningBalance: r.value, runningSide: r.side };
      });
      const last = rows[rows.length - 1];
      const open = signed(opening, currency);
      return {
        code,
        currency,
        openingBalance: { balance: open.value, side: open.side },
        lines,
        nextCursor: rows.length === q.limit && last !== undefined ? encodeCursor([last.effectiveDate, last.position, last.lineNo]) : null,
      };
    },
  );
}
