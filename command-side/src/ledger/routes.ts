// The ledger's command API. Every command needs an Idempotency-Key; the
// answer to a key is stored, so a retry gets the same answer (with the
// Idempotent-Replayed header) and a reused key with another body gets 409.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  accountCodeSchema,
  createLedgerBody,
  emptyBody,
  entryIdSchema,
  ledgerIdSchema,
  openAccountBody,
  periodSchema,
  postJournalEntryBody,
  reopenPeriodBody,
  reverseJournalEntryBody,
} from "@trueup/contracts";
import type { IdempotencyStore } from "../idempotency.ts";
import type { InFlight } from "../in-flight.ts";
import { commandHeaders, commandRunner, outcomeFields } from "../http/command-runner.ts";
import { commandDocs } from "./docs.ts";
import type { LedgerCommandService } from "./service.ts";

export interface LedgerCommandRoutesDeps {
  readonly service: LedgerCommandService;
  readonly idempotency: IdempotencyStore;
  /** Every command runs under it, so a shutdown can wait for them (see InFlight). */
  readonly inFlight?: InFlight;
}

const accepted = z.object({
  ledgerId: z.string(),
  code: z.string().optional(),
  entryId: z.string().optional(),
  period: z.string().optional(),
  ...outcomeFields,
});

const ledgerParams = z.object({ ledgerId: ledgerIdSchema });

export function ledgerCommandRoutes(deps: LedgerCommandRoutesDeps) {
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const tags = ["ledger commands"];

    app.post("/ledgers", { schema: { tags, headers: commandHeaders, ...commandDocs("createLedger", { body: createLedgerBody, answer: accepted, status: 201 }) } }, (request, reply) =>
      run(request, reply, { scope: "", status: 201, execute: async (ctx) => ({ ledgerId: request.body.ledgerId, ...(await deps.service.createLedger(ctx, request.body)) }) }),
    );

    app.post("/ledgers/:ledgerId/accounts", { schema: { tags, headers: commandHeaders, params: ledgerParams, ...commandDocs("openAccount", { body: openAccountBody, answer: accepted, status: 201 }) } }, (request, reply) => {
      const { ledgerId } = request.params;
      return run(request, reply, { scope: ledgerId, status: 201, execute: async (ctx) => ({ ledgerId, code: request.body.code, ...(await deps.service.openAccount(ctx, ledgerId, request.body)) }) });
    });

    app.post(
      "/ledgers/:ledgerId/accounts/:code/close",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ code: accountCodeSchema }), ...commandDocs("closeAccount", { body: emptyBody, answer: accepted, status: 200 }) } },
      (request, reply) => {
        const { ledgerId, code } = request.params;
        return run(request, reply, { scope: ledgerId, status: 200, execute: async (ctx) => ({ ledgerId, code, ...(await deps.service.closeAccount(ctx, ledgerId, code)) }) });
      },
    );

    app.post("/ledgers/:ledgerId/journal-entries", { schema: { tags, headers: commandHeaders, params: ledgerParams, ...commandDocs("postEntry", { body: postJournalEntryBody, answer: accepted, status: 201 }) } }, (request, reply) => {
      const { ledgerId } = request.params;
      // The accounts are read while the idempotency key is checked, not after.
      const ledgerLoad = deps.service.loadLedger(ledgerId);
      ledgerLoad.catch(() => undefined);
      return run(request, reply, {
        scope: ledgerId,
        status: 201,
        withReceipts: deps.service.storesReceipts,
        execute: async (ctx, receipt) => {
          const entryReceipt = receipt && ((entry: { entryId: string; revision: bigint }) => receipt({ ledgerId, entryId: entry.entryId }, entry.revision));
          return { ledgerId, ...(await deps.service.postEntry(ctx, ledgerId, request.body, ledgerLoad, entryReceipt)) };
        },
      });
    });

    app.post(
      "/ledgers/:ledgerId/journal-entries/:entryId/reverse",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ entryId: entryIdSchema }), ...commandDocs("reverseEntry", { body: reverseJournalEntryBody, answer: accepted, status: 201 }) } },
      (request, reply) => {
        const { ledgerId, entryId } = request.params;
        return run(request, reply, { scope: ledgerId, status: 201, execute: async (ctx) => ({ ledgerId, ...(await deps.service.reverseEntry(ctx, ledgerId, entryId, request.body)) }) });
      },
    );

    app.post(
      "/ledgers/:ledgerId/periods/:period/close",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ period: periodSchema }), ...commandDocs("closePeriod", { body: emptyBody, answer: accepted, status: 200 }) } },
      (request, reply) => {
        const { ledgerId, period } = request.params;
        return run(request, reply, { scope: ledgerId, status: 200, execute: async (ctx) => ({ ledgerId, period, ...(await deps.service.closePeriod(ctx, ledgerId, period)) }) });
      },
    );

    app.post(
      "/ledgers/:ledgerId/periods/:period/reopen",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ period: periodSchema }), ...commandDocs("reopenPeriod", { body: reopenPeriodBody, answer: accepted, status: 200 }) } },
      (request, reply) => {
        const { ledgerId, period } = request.params;
        return run(request, reply, { scope: ledgerId, status: 200, execute: async (ctx) => ({ ledgerId, period, ...(await deps.service.reopenPeriod(ctx, ledgerId, period, request.body.reason)) }) });
      },
    );
  };
}

