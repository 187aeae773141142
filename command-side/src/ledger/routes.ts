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
import type { IdempotencyStore, Receipt } from "../idempotency.ts";
import type { InFlight } from "../in-flight.ts";
import { ReceiptConflictError } from "./service.ts";
import type { CommandContext, CommandOutcome, LedgerCommandService } from "./service.ts";

export interface LedgerCommandRoutesDeps {
  readonly service: LedgerCommandService;
  readonly idempotency: IdempotencyStore;
  /** Every command runs under it, so a shutdown can wait for them (see InFlight). */
  readonly inFlight?: InFlight;
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
    const inFlight = deps.inFlight;
    if (inFlight !== undefined) {
      // From arrival, not from the handler: a request still being parsed when a shutdown begins is let through.
      // Held until its response closes (sent, or the connection gone: then the handler's own hold below remains).
      app.addHook("onRequest", async (_request, reply) => {
        reply.raw.once("close", inFlight.hold());
      });
    }
    const runCommand = runner(deps.idempotency);
    const run: typeof runCommand = inFlight === undefined ? runCommand : (...args) => inFlight.track(runCommand(...args));
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
      return run(request, reply, ledgerId, 201, async (ctx, receipt) => {
        const entryReceipt = receipt && ((entry: { entryId: string; revision: bigint }) => receipt({ ledgerId, entryId: entry.entryId }, entry.revision));
        return { ledgerId, ...(await deps.service.postEntry(ctx, ledgerId, request.body, ledgerLoad, entryReceipt)) };
      }, deps.service.storesReceipts);
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

/** The receipt of a command that succeeds: its answer, given the answer's fields and the stream revision. */
type ReceiptOf = (fields: Omit<Accepted, "revision" | "position" | "replayed">, revision: bigint) => Receipt;
type Execute = (ctx: CommandContext, receipt?: ReceiptOf) => Promise<Omit<Accepted, "revision" | "position" | "replayed"> & CommandOutcome>;

/** The answer's body: the command's fields with its outcome in JSON form (`recorded` stays internal). */
function acceptedBody({ revision, position, replayed, recorded: _recorded, ...fields }: Awaited<ReturnType<Execute>>): Accepted {
  return { ...fields, revision: revision === undefined ? null : revision.toString(), position: position ?? null, replayed };
}

/**
 * Wraps a command in its idempotency key (answers to 2xx and 4xx are kept;
 * never 5xx). Two ways, see IdempotencyStore:
 * - claimed: begin → execute → complete;
 * - with receipts (`withReceipts`): look the key up, execute with the answer
 *   stored in the events' transaction; when that cannot settle it (the key
 *   was taken meanwhile, or the events turned out to be there already), the
 *   command goes the claimed way, which then finds what is there.
 */
function runner(idempotency: IdempotencyStore) {
  const claimed = async (
    request: FastifyRequest,
    reply: FastifyReply,
    scope: string,
    status: 200 | 201,
    execute: Execute,
    { key, hash, origin }: Identity = identify(request),
  ): Promise<void> => {
    const begun = await idempotency.begin(scope, key, hash, origin);
    if (begun.kind === "conflict") throw conflictError(key);
    if (begun.kind === "replay") {
      await sendReplay(reply, begun);
      return;
    }
    // A retry runs as the first attempt did: its time, actor and correlation id (the events must come out identical).
    const ctx: CommandContext = { commandId: `${scope}/${key}`, ...begun.origin, occurredAt: begun.firstSeenAt };
    try {
      const body = acceptedBody(await execute(ctx));
      await idempotency.complete(scope, key, status, body);
      if (body.replayed) void reply.header("idempotent-replayed", "true");
      await reply.code(status).send(body);
    } catch (error) {
      if (error instanceof TrueupError && error.status < 500) await idempotency.complete(scope, key, error.status, problemOf(error));
      throw error;
    }
  };

  return async (request: FastifyRequest, reply: FastifyReply, scope: string, status: 200 | 201, execute: Execute, withReceipts = false): Promise<void> => {
    if (!withReceipts) return claimed(request, reply, scope, status, execute);
    const identity = identify(request);
    const { key, hash, origin } = identity;
    const known = await idempotency.lookup(scope, key, hash);
    if (known.kind === "conflict") throw conflictError(key);
    if (known.kind === "replay") {
      await sendReplay(reply, known);
      return;
    }
    if (known.kind === "retry") return claimed(request, reply, scope, status, execute, identity);
    const ctx: CommandContext = { commandId: `${scope}/${key}`, ...origin, occurredAt: new Date() };
    const receipt: ReceiptOf = (fields, revision) => ({
      scope,
      key,
      hash,
      origin,
      firstSeenAt: ctx.occurredAt,
      statusCode: status,
      response: { ...fields, revision: revision.toString(), position: null, replayed: false },
    });
    let result: Awaited<ReturnType<Execute>>;
    try {
      result = await execute(ctx, receipt);
    } catch (error) {
      if (error instanceof ReceiptConflictError) return claimed(request, reply, scope, status, execute, identity);
      if (error instanceof TrueupError && error.status < 500) {
        const stored = await idempotency.record({ scope, key, hash, origin, firstSeenAt: ctx.occurredAt, statusCode: error.status, response: problemOf(error) });
        // Taken meanwhile: that attempt's answer is the key's answer.
        if (!stored) return claimed(request, reply, scope, status, execute, identity);
      }
      throw error;
    }
    // Nothing of this attempt was written (its events were there already): the key's answer is elsewhere.
    if (!result.recorded) return claimed(request, reply, scope, status, execute, identity);
    await reply.code(status).send(acceptedBody(result));
  };
}

/** A command request's key, the hash of what it asks, and who sent it. */
interface Identity {
  readonly key: string;
  readonly hash: string;
  readonly origin: { readonly actor: string; readonly correlationId: string };
}

function identify(request: FastifyRequest): Identity {
  const headers = request.headers;
  return {
    key: String(headers["idempotency-key"]),
    hash: requestHash({ method: request.method, route: request.url, body: request.body }),
    origin: {
      actor: typeof headers["x-actor"] === "string" ? headers["x-actor"] : "anonymous",
      correlationId: typeof headers["x-correlation-id"] === "string" ? headers["x-correlation-id"] : request.id,
    },
  };
}

function conflictError(key: string): TrueupError {
  return new TrueupError("IDEMPOTENCY_CONFLICT", `Idempotency-Key ${key} was used with a different request`);
}

async function sendReplay(reply: FastifyReply, replay: { statusCode: number; response: unknown }): Promise<void> {
  await reply
    .code(replay.statusCode)
    .header("idempotent-replayed", "true")
    .type(replay.statusCode >= 400 ? "application/problem+json" : "application/json")
    .send(replay.response);
}
