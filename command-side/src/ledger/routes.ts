// The ledger's command API. Every command needs an Idempotency-Key; the
// answer to a key is stored, so a retry gets the same answer (with the
// Idempotent-Replayed header) and a reused key with another body gets 409.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  TrueupError,
  accountCodeSchema,
  createLedgerBody,
  emptyBody,
  entryIdSchema,
  ledgerIdSchema,
  openAccountBody,
  periodSchema,
  postJournalEntryBody,
  problemOf,
  reopenPeriodBody,
  reverseJournalEntryBody,
} from "@trueup/contracts";
import { IDEMPOTENCY_KEY_PATTERN, requestHash } from "../idempotency.ts";
import type { IdempotencyStore } from "../idempotency.ts";
import type { CommandContext, CommandOutcome, LedgerCommandService } from "./service.ts";

export interface LedgerCommandRoutesDeps {
  readonly service: LedgerCommandService;
  readonly idempotency: IdempotencyStore;
}

const commandHeaders = z.looseObject({
  "idempotency-key": z.unknown().transform((key, ctx) => {
    if (typeof key === "string" && IDEMPOTENCY_KEY_PATTERN.test(key)) return key;
    ctx.addIssue({ code: "custom", message: "Idempotency-Key header required: 1-200 visible ASCII characters", params: { code: "IDEMPOTENCY_KEY_MISSING" } });
    return z.NEVER;
  }),
  "x-actor": z.string().min(1).max(200).optional(),
  "x-correlation-id": z.string().min(1).max(200).optional(),
});

const accepted = z.object({
  ledgerId: z.string(),
  code: z.string().optional(),
  entryId: z.string().optional(),
  period: z.string().optional(),
  revision: z.string().nullable().describe("stream revision after the command (decimal)"),
  position: z.string().nullable().describe("global log position; pass as minPosition to read your own write"),
  replayed: z.boolean(),
});
type Accepted = z.infer<typeof accepted>;

const ledgerParams = z.object({ ledgerId: ledgerIdSchema });

export function ledgerCommandRoutes(deps: LedgerCommandRoutesDeps) {
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = runner(deps.idempotency);
    const tags = ["ledger commands"];
    const responses = (status: 200 | 201) => ({ [status]: accepted });

    app.post("/ledgers", { schema: { tags, headers: commandHeaders, body: createLedgerBody, response: responses(201) } }, (request, reply) =>
      run(request, reply, "", 201, async (ctx) => ({ ledgerId: request.body.ledgerId, ...(await deps.service.createLedger(ctx, request.body)) })),
    );

    app.post("/ledgers/:ledgerId/accounts", { schema: { tags, headers: commandHeaders, params: ledgerParams, body: openAccountBody, response: responses(201) } }, (request, reply) => {
      const { ledgerId } = request.params;
      return run(request, reply, ledgerId, 201, async (ctx) => ({ ledgerId, code: request.body.code, ...(await deps.service.openAccount(ctx, ledgerId, request.body)) }));
    });

    app.post(
      "/ledgers/:ledgerId/accounts/:code/close",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ code: accountCodeSchema }), body: emptyBody, response: responses(200) } },
      (request, reply) => {
        const { ledgerId, code } = request.params;
        return run(request, reply, ledgerId, 200, async (ctx) => ({ ledgerId, code, ...(await deps.service.closeAccount(ctx, ledgerId, code)) }));
      },
    );

    app.post("/ledgers/:ledgerId/journal-entries", { schema: { tags, headers: commandHeaders, params: ledgerParams, body: postJournalEntryBody, response: responses(201) } }, (request, reply) => {
      const { ledgerId } = request.params;
      // The accounts are read while the idempotency key is checked, not after.
      const ledgerLoad = deps.service.loadLedger(ledgerId);
      ledgerLoad.catch(() => undefined);
      return run(request, reply, ledgerId, 201, async (ctx) => ({ ledgerId, ...(await deps.service.postEntry(ctx, ledgerId, request.body, ledgerLoad)) }));
    });

    app.post(
      "/ledgers/:ledgerId/journal-entries/:entryId/reverse",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ entryId: entryIdSchema }), body: reverseJournalEntryBody, response: responses(201) } },
      (request, reply) => {
        const { ledgerId, entryId } = request.params;
        return run(request, reply, ledgerId, 201, async (ctx) => ({ ledgerId, ...(await deps.service.reverseEntry(ctx, ledgerId, entryId, request.body)) }));
      },
    );

    app.post(
      "/ledgers/:ledgerId/periods/:period/close",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ period: periodSchema }), body: emptyBody, response: responses(200) } },
      (request, reply) => {
        const { ledgerId, period } = request.params;
        return run(request, reply, ledgerId, 200, async (ctx) => ({ ledgerId, period, ...(await deps.service.closePeriod(ctx, ledgerId, period)) }));
      },
    );

    app.post(
      "/ledgers/:ledgerId/periods/:period/reopen",
      { schema: { tags, headers: commandHeaders, params: ledgerParams.extend({ period: periodSchema }), body: reopenPeriodBody, response: responses(200) } },
      (request, reply) => {
        const { ledgerId, period } = request.params;
        return run(request, reply, ledgerId, 200, async (ctx) => ({ ledgerId, period, ...(await deps.service.reopenPeriod(ctx, ledgerId, period, request.body.reason)) }));
      },
    );
  };
}

type Execute = (ctx: CommandContext) => Promise<Omit<Accepted, "revision" | "position" | "replayed"> & CommandOutcome>;

/** Wraps a command in its idempotency key: begin → execute → remember the answer (2xx and 4xx; never 5xx). */
function runner(idempotency: IdempotencyStore) {
  return async (request: FastifyRequest, reply: FastifyReply, scope: string, status: 200 | 201, execute: Execute): Promise<void> => {
    const headers = request.headers;
    const key = String(headers["idempotency-key"]);
    const hash = requestHash({ method: request.method, route: request.url, body: request.body });
    const origin = {
      actor: typeof headers["x-actor"] === "string" ? headers["x-actor"] : "anonymous",
      correlationId: typeof headers["x-correlation-id"] === "string" ? headers["x-correlation-id"] : request.id,
    };
    const begun = await idempotency.begin(scope, key, hash, origin);
    if (begun.kind === "conflict") throw new TrueupError("IDEMPOTENCY_CONFLICT", `Idempotency-Key ${key} was used with a different request`);
    if (begun.kind === "replay") {
      await reply.code(begun.statusCode).header("idempotent-replayed", "true").type(begun.statusCode >= 400 ? "application/problem+json" : "application/json").send(begun.response);
      return;
    }
    // A retry runs as the first attempt did: its time, actor and correlation id (the events must come out identical).
    const ctx: CommandContext = { commandId: `${scope}/${key}`, ...begun.origin, occurredAt: begun.firstSeenAt };
    try {
      const outcome = await execute(ctx);
      const body: Accepted = {
        ...outcome,
        revision: outcome.revision === undefined ? null : outcome.revision.toString(),
        position: outcome.position ?? null,
        replayed: outcome.replayed,
      };
      await idempotency.complete(scope, key, status, body);
      if (body.replayed) void reply.header("idempotent-replayed", "true");
      await reply.code(status).send(body);
    } catch (error) {
      if (error instanceof TrueupError && error.status < 500) await idempotency.complete(scope, key, error.status, problemOf(error));
      throw error;
    }
  };
}
