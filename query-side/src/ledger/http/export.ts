// The hledger journal export: the ledger's accounts and every entry in
// effective-date order, streamed page by page as plain text.
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { LedgerReader } from "../reader.ts";
import { hledgerEntry, hledgerHeader } from "../hledger.ts";
import type { QueryGuards } from "./shared.ts";
import { QUERY_LIMITS, consistency, ledgerParams, queryProblems, tags } from "./shared.ts";

const JOURNAL_EXAMPLE = `; Ledger Acme GmbH, exported by Trueup
commodity 1000.00 EUR

2026-03-03 Invoice 42, Müller GmbH  ; entry: INV-2026-0042
    assets:1200              1190.00 EUR
    revenue:4000            -1000.00 EUR
    liabilities:2200         -190.00 EUR
`;

export function exportRoutes(options: { app: FastifyInstance; reader: LedgerReader; guards: QueryGuards }): void {
  const app = options.app.withTypeProvider<ZodTypeProvider>();
  const { reader, guards } = options;

  app.get(
    "/ledgers/:ledgerId/export.journal",
    {
      schema: {
        tags,
        summary: "Export the ledger as an hledger journal",
        description: `Plain text for hledger (and ledger-cli): the accounts, then every entry in effective-date then posting order, streamed. Stops with an error beyond ${QUERY_LIMITS.exportEntriesMax} entries.`,
        params: ledgerParams,
        querystring: z.strictObject(consistency),
        produces: ["text/plain"],
        response: {
          200: { description: "The journal, as an attachment", content: { "text/plain": { schema: z.string().meta({ example: JOURNAL_EXAMPLE }) } } },
          ...queryProblems(),
        },
      },
    },
    async (request, reply) => {
      const { ledgerId } = request.params;
      await guards.consistent(ledgerId, request.query.minPosition);
      // A stream is piped as it is, never serialized; the type provider only knows the documented text, hence the cast.
      const body = Readable.from(exportJournal(reader, ledgerId)) as unknown as string;
      return reply.type("text/plain; charset=utf-8").header("content-disposition", `attachment; filename="${ledgerId}.journal"`).send(body);
    },
  );
}

async function* exportJournal(reader: LedgerReader, ledgerId: string): AsyncGenerator<string> {
  const types = new Map<string, string>();
  for (let after: string | undefined; ; ) {
    const page = await reader.accounts(ledgerId, { afterCode: after, limit: QUERY_LIMITS.pageSizeMax });
    for (const a of page) types.set(a.code, a.type);
    after = page[page.length - 1]?.code;
    if (page.length < QUERY_LIMITS.pageSizeMax) break;
  }
  const ledger = await reader.ledger(ledgerId);
  const currencies = [...new Set((await reader.balances(ledgerId, {})).map((b) => b.currency))].sort();
  yield hledgerHeader(ledger?.name ?? ledgerId, currencies);
  let after: { day: string; position: string } | undefined;
  for (let exported = 0; exported < QUERY_LIMITS.exportEntriesMax; ) {
    const page = await reader.entries(ledgerId, { after, limit: QUERY_LIMITS.exportPageSize });
    yield page.map((e) => hledgerEntry(e, (code) => types.get(code) ?? "unknown")).join("");
    exported += page.length;
    const last = page[page.length - 1];
    if (last === undefined || page.length < QUERY_LIMITS.exportPageSize) return;
    after = { day: last.effectiveDate, position: last.position };
  }
  throw new Error(`export stopped at ${QUERY_LIMITS.exportEntriesMax} entries`);
}
