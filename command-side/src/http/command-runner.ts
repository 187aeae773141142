// The idempotent-command runner every bounded context's command routes use.
// Every command needs an Idempotency-Key; the answer to a key is stored, so a
// retry gets the same answer (with the Idempotent-Replayed header) and a
// reused key with another body gets 409 IDEMPOTENCY_CONFLICT.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { POSITION_PATTERN, TrueupError, problemOf } from "@trueup/contracts";
import type { ErrorCode, ProblemResponse } from "@trueup/contracts";
import { IDEMPOTENCY_KEY_LENGTH_MAX, IDEMPOTENCY_KEY_PATTERN, requestHash } from "../idempotency.ts";
import type { Answer, IdempotencyStore } from "../idempotency.ts";
import type { InFlight } from "../in-flight.ts";
import type { Origin, Receipt } from "../receipt.ts";
import { ReceiptConflictError } from "../command.ts";
import type { CommandContext, CommandOutcome } from "../command.ts";

/** The headers of every command request. */
export const commandHeaders = z.looseObject({
  "idempotency-key": z.unknown().transform((key, ctx) => {
    if (typeof key === "string" && IDEMPOTENCY_KEY_PATTERN.test(key)) return key;
    // Missing and malformed are two mistakes: a client that sent a 300-character key must not be told to send one.
    if (key === undefined) {
      ctx.addIssue({ code: "custom", message: "Idempotency-Key header required: 1-200 visible ASCII characters", params: { code: "IDEMPOTENCY_KEY_MISSING" } });
    } else {
      const length = typeof key === "string" ? key.length : 0;
      const what = length > IDEMPOTENCY_KEY_LENGTH_MAX ? `${length} characters, more than ${IDEMPOTENCY_KEY_LENGTH_MAX}` : "characters outside visible ASCII (0x21-0x7e), or none";
      ctx.addIssue({ code: "custom", message: `Idempotency-Key must be 1-${IDEMPOTENCY_KEY_LENGTH_MAX} visible ASCII characters; this one has ${what}`, params: { code: "IDEMPOTENCY_KEY_INVALID" } });
    }
    return z.NEVER;
  }).meta({
    // Checked by the transform above (any value reaches it, so a missing key gets its own code); documented here.
    type: "string",
    pattern: IDEMPOTENCY_KEY_PATTERN.source,
    description: "Chosen by the client, unique per command (e.g. a UUID). A retry with the same key and body gets the first answer again; another body with it is a 409 IDEMPOTENCY_CONFLICT.",
    example: "3f0c9a4e-5b1d-4c7e-9a26-8d1f2b6e7c90",
  }),
  "x-actor": z.string().min(1).max(200).optional(),
  "x-correlation-id": z.string().min(1).max(200).optional(),
});

/** The fields every accepted command's answer carries beside its own. */
/** The problems any command run through this runner may answer with, whatever it does (for its route's documented responses). */
export const EVERY_COMMAND_PROBLEMS: readonly ErrorCode[] = [
  "VALIDATION_FAILED", "IDEMPOTENCY_KEY_MISSING", "IDEMPOTENCY_KEY_INVALID", "IDEMPOTENCY_CONFLICT", "CONCURRENCY_CONFLICT",
  "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "STORE_UNAVAILABLE", "OVERLOADED",
];

/** What a command route documents: its words, an example body and answer, and the problems it can answer with. */
export interface CommandDocs {
  readonly summary: string;
  readonly description: string;
  readonly body: unknown;
  readonly answer: unknown;
  readonly problems: Readonly<Record<number, ProblemResponse>>;
}

/**
 * The schema of a command route: the command headers (Idempotency-Key),
 * its params and body, the answer at `status` with its example, and the
 * documented problems. One place, so every command route documents the
 * same things the same way.
 */
export function commandRouteSchema<P extends z.ZodType, B extends z.ZodType>(spec: {
  readonly tags: readonly string[];
  readonly params: P;
  readonly body: B;
  readonly status: 200 | 201;
  readonly answer: z.ZodType;
  /** What the answer is, in words: "Saved", "Registered", … */
  readonly done: string;
  readonly docs: CommandDocs;
}) {
  const answer = spec.answer.meta({ example: spec.docs.answer, description: `${spec.done}, or (\`replayed: true\`, header Idempotent-Replayed) the stored answer of an earlier request with this key` });
  return {
    tags: [...spec.tags],
    headers: commandHeaders,
    params: spec.params,
    summary: spec.docs.summary,
    description: spec.docs.description,
    body: spec.body.meta({ example: spec.docs.body }),
    response: { [spec.status]: answer, ...spec.docs.problems },
  };
}

export const outcomeFields = {
  revision: z.string().nullable().meta({ pattern: "^[0-9]+$", description: "Stream revision after the command (decimal)", example: "3" }),
  position: z.string().nullable().meta({ pattern: POSITION_PATTERN.source, description: "Global log position (32 lowercase hex digits); pass as minPosition to read your own write", example: "00000000000002f10000000000000004" }),
  replayed: z.boolean().describe("true when this is the stored answer of an earlier request with the same key"),
};

/** A command's own answer fields (ids of what it made or changed). */
export type Fields = Readonly<Record<string, unknown>>;

/** The answer body of an accepted command. */
export type AcceptedBody<F extends Fields> = F & { readonly revision: string | null; readonly position: string | null; readonly replayed: boolean };

/** The receipt of a command that succeeds: its answer, given the answer's fields and the stream revision. */
export type ReceiptOf<F extends Fields> = (fields: F, revision: bigint) => Receipt;

export interface CommandSpec<F extends Fields> {
  /** Keys are unique per scope (e.g. a ledger id): the same key in two scopes is two commands. */
  readonly scope: string;
  readonly status: 200 | 201;
  /** Runs the command; `receipt` is given when the answer may be stored with its events (`withReceipts`). */
  readonly execute: (ctx: CommandContext, receipt?: ReceiptOf<F>) => Promise<F & CommandOutcome>;
  /** The command's writer can store its answer in its events' transaction (see IdempotencyStore.receiptWrite). */
  readonly withReceipts?: boolean | undefined;
  /**
   * What the request asks, hashed by the route, when the body is not JSON (a
   * statement file: its SHA-256 with the route, params and query). Default: a
   * hash of method, URL and the parsed body.
   */
  readonly requestHash?: string | undefined;
}

export type RunCommand = <F extends Fields>(request: FastifyRequest, reply: FastifyReply, spec: CommandSpec<F>) => Promise<void>;

export interface CommandRunnerDeps {
  readonly idempotency: IdempotencyStore;
  /** Every command runs under it, so a shutdown can wait for them (see InFlight). */
  readonly inFlight?: InFlight | undefined;
}

/** How long a request waits for another request with the same key, in this process, to answer. */
export const KEY_HOLD_WAIT_MS = 30_000;

/**
 * Answers a key may keep: final ones. A 5xx (storage down, overloaded) and a
 * 409 CONCURRENCY_CONFLICT only say "try again": stored, they would answer
 * every retry with the failure instead of running the command.
 */
export function isFinalAnswer(error: TrueupError): boolean {
  return error.status < 500 && error.code !== "CONCURRENCY_CONFLICT";
}

/**
 * Registers what the runner needs on a command plugin's instance and returns
 * the runner. Call it once per plugin, before its routes.
 */
export function commandRunner(app: FastifyInstance, deps: CommandRunnerDeps): RunCommand {
  const inFlight = deps.inFlight;
  const run = runner(deps.idempotency);
  if (inFlight === undefined) return run;
  // From arrival, not from the handler: a request still being parsed when a shutdown begins is let through.
  // Held until its response closes (sent, or the connection gone: then the handler's own hold below remains).
  app.addHook("onRequest", async (_request, reply) => {
    reply.raw.once("close", inFlight.hold());
  });
  return (request, reply, spec) => inFlight.track(run(request, reply, spec));
}

/** The answer's body: the command's fields with its outcome in JSON form (`recorded` stays internal). */
function acceptedBody<F extends Fields>({ revision, position, replayed, recorded: _recorded, ...fields }: F & CommandOutcome): AcceptedBody<F> {
  // The rest of `F & CommandOutcome` without the outcome's keys is F.
  return { ...(fields as unknown as F), revision: revision === undefined ? null : revision.toString(), position: position ?? null, replayed };
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
function runner(idempotency: IdempotencyStore): RunCommand {
  const held = new KeyHolds();
  const claimed = async <F extends Fields>(request: FastifyRequest, reply: FastifyReply, spec: CommandSpec<F>, identity: Identity = identify(request, spec.requestHash)): Promise<void> => {
    const { scope, status, execute } = spec;
    const { key, hash, origin } = identity;
    const begun = await idempotency.begin(scope, key, hash, origin);
    if (begun.kind === "conflict") throw conflictError(key);
    if (begun.kind === "replay") {
      await sendReplay(reply, begun);
      return;
    }
    // A retry runs as the first attempt did: its time, actor and correlation id (the events must come out identical).
    const ctx: CommandContext = { commandId: `${scope}/${key}`, ...begun.origin, occurredAt: begun.firstSeenAt };
    let answer: Answer & { readonly won: boolean };
    let executedAgain = false;
    try {
      const body = acceptedBody(await execute(ctx));
      executedAgain = body.replayed;
      // Stored as a first answer: `replayed` describes a request, not the command.
      answer = await idempotency.complete(scope, key, status, { ...body, replayed: false });
    } catch (error) {
      if (!(error instanceof TrueupError) || !isFinalAnswer(error)) throw error;
      answer = await idempotency.complete(scope, key, error.status, problemOf(error));
    }
    // The key's answer, ours or one stored first by another attempt: every request with the key gets the same.
    await sendAnswer(reply, answer, executedAgain || !answer.won);
  };

  const unheld = async <F extends Fields>(request: FastifyRequest, reply: FastifyReply, spec: CommandSpec<F>): Promise<void> => {
    if (spec.withReceipts !== true) return claimed(request, reply, spec);
    const { scope, status, execute } = spec;
    const identity = identify(request, spec.requestHash);
    const { key, hash, origin } = identity;
    const known = await idempotency.lookup(scope, key, hash);
    if (known.kind === "conflict") throw conflictError(key);
    if (known.kind === "replay") {
      await sendReplay(reply, known);
      return;
    }
    if (known.kind === "retry") return claimed(request, reply, spec, identity);
    const ctx: CommandContext = { commandId: `${scope}/${key}`, ...origin, occurredAt: new Date() };
    const receipt: ReceiptOf<F> = (fields, revision) => ({
      scope,
      key,
      hash,
      origin,
      firstSeenAt: ctx.occurredAt,
      statusCode: status,
      response: { ...fields, revision: revision.toString(), position: null, replayed: false },
    });
    let result: F & CommandOutcome;
    try {
      result = await execute(ctx, receipt);
    } catch (error) {
      if (error instanceof ReceiptConflictError) return claimed(request, reply, spec, identity);
      if (error instanceof TrueupError && isFinalAnswer(error)) {
        const stored = await idempotency.record({ scope, key, hash, origin, firstSeenAt: ctx.occurredAt, statusCode: error.status, response: problemOf(error) });
        // Taken meanwhile: that attempt's answer is the key's answer.
        if (!stored) return claimed(request, reply, spec, identity);
      }
      throw error;
    }
    // Nothing of this attempt was written (its events were there already): the key's answer is elsewhere.
    if (!result.recorded) return claimed(request, reply, spec, identity);
    await reply.code(status).send(acceptedBody(result));
  };

  // A key is held while its command runs: a request with the same key waits for it, then finds its answer.
  return async <F extends Fields>(request: FastifyRequest, reply: FastifyReply, spec: CommandSpec<F>): Promise<void> => {
    const release = await held.acquire(`${spec.scope}\u0000${String(request.headers["idempotency-key"])}`);
    try {
      await unheld(request, reply, spec);
    } finally {
      release();
    }
  };
}

/**
 * Keys whose commands run in this process, each with the requests waiting
 * for it. Bounded: a waiter gives up after KEY_HOLD_WAIT_MS with a retryable
 * 409 CONCURRENCY_CONFLICT (never stored). Across processes, the stream
 * writer's check (a command already in its stream is a replay) and the key's
 * first-answer-wins completion keep concurrent attempts to one effect and one
 * answer.
 */
class KeyHolds {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(id: string): Promise<() => void> {
    const before = this.tails.get(id);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = (before ?? Promise.resolve()).then(() => mine);
    this.tails.set(id, tail);
    const done = (): void => {
      release();
      if (this.tails.get(id) === tail) this.tails.delete(id);
    };
    if (before === undefined) return done;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        resolve("timeout");
      }, KEY_HOLD_WAIT_MS);
    });
    const waited = await Promise.race([before.then(() => "ready" as const), timeout]);
    clearTimeout(timer);
    if (waited === "timeout") {
      // Our turn must not block the ones behind us: pass it on when it comes.
      done();
      throw new TrueupError("CONCURRENCY_CONFLICT", `a request with this Idempotency-Key is still running after ${KEY_HOLD_WAIT_MS} ms; retry with the same key`);
    }
    return done;
  }
}

/** A command request's key, the hash of what it asks, and who sent it. */
interface Identity {
  readonly key: string;
  readonly hash: string;
  readonly origin: Origin;
}

function identify(request: FastifyRequest, hash: string | undefined): Identity {
  const headers = request.headers;
  return {
    key: String(headers["idempotency-key"]),
    hash: hash ?? requestHash({ method: request.method, route: request.url, body: request.body }),
    origin: {
      actor: typeof headers["x-actor"] === "string" ? headers["x-actor"] : "anonymous",
      correlationId: typeof headers["x-correlation-id"] === "string" ? headers["x-correlation-id"] : request.id,
    },
  };
}

function conflictError(key: string): TrueupError {
  return new TrueupError("IDEMPOTENCY_CONFLICT", `Idempotency-Key ${key} was used with a different request`);
}

/** A stored answer sent again: the header and the body's `replayed` say so together. */
async function sendReplay(reply: FastifyReply, replay: Answer): Promise<void> {
  await sendAnswer(reply, replay, true);
}

async function sendAnswer(reply: FastifyReply, answer: Answer, replayed: boolean): Promise<void> {
  const accepted = answer.statusCode < 400 && answer.response !== null && typeof answer.response === "object";
  if (replayed) void reply.header("idempotent-replayed", "true");
  await reply
    .code(answer.statusCode)
    .type(answer.statusCode >= 400 ? "application/problem+json" : "application/json")
    .send(accepted ? { ...answer.response, replayed } : answer.response);
}
