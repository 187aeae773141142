// The CSV profiles' command API: saving one. Like every command it needs an
// Idempotency-Key (http/command-runner.ts): a retry gets the same answer,
// and the same profile id when the client let the server choose it.
// No GET here: listing profiles is a query, and the query side has no read
// model of them yet (an import reads a profile from the log, readCsvProfile).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ledgerIdSchema, problemResponses, saveCsvProfileBody } from "@trueup/contracts";
import type { IdempotencyStore } from "../../idempotency.ts";
import type { InFlight } from "../../in-flight.ts";
import { EVERY_COMMAND_PROBLEMS, commandRouteSchema, commandRunner, outcomeFields } from "../../http/command-runner.ts";
import type { CsvProfileCommandService } from "./service.ts";

export interface CsvProfileCommandRoutesDeps {
  readonly service: CsvProfileCommandService;
  readonly idempotency: IdempotencyStore;
  readonly inFlight?: InFlight | undefined;
}

const accepted = z.object({
  ledgerId: z.string().meta({ description: "The ledger the profile belongs to", example: "acme" }),
  profileId: z.string().meta({ description: "The profile's id (chosen by the client, or derived from the Idempotency-Key): pass it as ?profile= to an import", example: "sparkasse" }),
  ...outcomeFields,
});

const SAVE_DOCS = {
  summary: "Save a CSV mapping profile",
  description:
    "Saves how a bank's or PSP's CSV export is read: delimiter, quote, decimal and thousands separators, date format, encoding, header row and rows to skip, " +
    "and the column map (a column by header name, by 0-based index, or `{ names: [...], optional }` for alternatives). Map either a signed `amount` column " +
    "(`positiveMeans` says whether positive is money in or out) or a `debit` and a `credit` column. A profile is saved once; `stripe` is built in and cannot be saved. " +
    "`profileId` is optional (derived from the Idempotency-Key otherwise). " +
    "Needs an `Idempotency-Key` header; a retry with the same key and body answers the first answer again (`Idempotent-Replayed: true`).",
  body: {
    profileId: "sparkasse",
    name: "Sparkasse CSV-CAMT export",
    delimiter: ";",
    decimalSeparator: ",",
    thousandsSeparator: ".",
    dateFormat: "DD.MM.YYYY",
    encoding: "windows-1252",
    currency: "EUR",
    columns: { bookingDate: "Buchungstag", valueDate: "Valutadatum", amount: "Betrag", description: "Verwendungszweck", counterpartyName: "Beguenstigter/Zahlungspflichtiger", counterpartyIban: "Kontonummer/IBAN" },
  },
  answer: { ledgerId: "acme", profileId: "sparkasse", revision: "0", position: "00000000000002f10000000000000004", replayed: false },
  problems: problemResponses([...EVERY_COMMAND_PROBLEMS, "LEDGER_NOT_FOUND", "CSV_PROFILE_ALREADY_EXISTS"], {
    VALIDATION_FAILED: { detail: "body/columns: map either an amount column or both debit and credit columns, not both", in: "body", path: "/columns" },
    CSV_PROFILE_ALREADY_EXISTS: { detail: "ledger acme has a CSV profile sparkasse; save the new mapping under another id", in: "body", path: "/profileId" },
  }),
} as const;

export function csvProfileCommandRoutes(deps: CsvProfileCommandRoutesDeps) {
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const schema = commandRouteSchema({ tags: ["reconciliation commands"], params: z.object({ ledgerId: ledgerIdSchema }), body: saveCsvProfileBody, status: 201, answer: accepted, done: "Saved", docs: SAVE_DOCS });
    app.post("/ledgers/:ledgerId/csv-profiles", { schema }, (request, reply) => {
      const { ledgerId } = request.params;
      return run(request, reply, { scope: ledgerId, status: 201, execute: async (ctx) => ({ ledgerId, ...(await deps.service.save(ctx, ledgerId, request.body)) }) });
    });
  };
}
