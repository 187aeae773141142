// The statement import routes: a raw file (any content type) in, its
// statements recorded (pipeline.ts). An encapsulated plugin, because it
// replaces the body parsers: here the body is never parsed (a camt file
// posted as application/xml, or a CSV as application/json by a careless
// client, must reach the importer as the bytes sent), only streamed to a
// temporary file (spool.ts), so the file's size is bounded while it arrives
// and memory does not grow with it.
//
// Idempotency: the shared command runner, with the request's identity given
// by the route (method, route, params, query and the file's SHA-256), since
// there is no JSON body to hash. Same key, another file → 409
// IDEMPOTENCY_CONFLICT; same key again → the stored answer. The file is
// spooled and hashed before the key is looked at: the hash is the key's
// request identity, and a replay costs the upload once more.
import os from "node:os";
import { Readable } from "node:stream";
import type { Socket } from "node:net";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { STATEMENT_FORMATS, TrueupError, bankAccountIdSchema, csvProfileIdSchema, ledgerIdSchema } from "@trueup/contracts";
import type { CsvProfile } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import { requestHash } from "../../idempotency.ts";
import type { IdempotencyStore } from "../../idempotency.ts";
import type { InFlight } from "../../in-flight.ts";
import { commandHeaders, commandRunner } from "../../http/command-runner.ts";
import { REQUESTABLE_ENCODINGS } from "./decode.ts";
import { IMPORT_PIPELINE_LIMITS, importStatements } from "./pipeline.ts";
import type { ImportAnswer, ImportPipelineLimits, ImportTarget } from "./pipeline.ts";
import { fileTooLarge, spool } from "./spool.ts";
import type { SpooledFile } from "./spool.ts";
import { IMPORT_DOCS, importAnswerSchema } from "./docs.ts";

/**
 * Bounds of the import routes (configurable: platform/src/config.ts, the
 * TRUEUP_IMPORT_* variables). The upload itself is bounded by the server's
 * timeouts (platform/src/app.ts HTTP_LIMITS): no bytes for connectionTimeoutMs
 * cuts the connection, and the whole request must arrive within
 * requestTimeoutMs; either way the partial file is removed and nothing written.
 */
export interface ImportRouteLimits extends ImportPipelineLimits {
  /** Bytes of one file: 413 STATEMENT_FILE_TOO_LARGE at the first byte beyond it (or at once, from Content-Length). */
  readonly fileBytesMax: number;
  /** Imports running at once in this process (each holds a temporary file and a parse); beyond: 503 OVERLOADED with Retry-After. */
  readonly concurrentImportsMax: number;
  /**
   * How long the connection may stay silent once the file is in, while it is
   * parsed, checked and appended (the server's idle timeout, 10 s, would cut a
   * large import's answer off: the client would see a reset for an import that
   * then completes). Beyond it the connection is closed; the import still
   * finishes or writes nothing, and the same key answers it.
   */
  readonly processingSilenceMsMax: number;
}

export const IMPORT_ROUTE_LIMITS: ImportRouteLimits = {
  ...IMPORT_PIPELINE_LIMITS,
  fileBytesMax: 256 * 1_048_576,
  concurrentImportsMax: 2,
  processingSilenceMsMax: 15 * 60_000,
};

/** What the platform configures of the import routes. */
export interface ImportRouteOptions {
  readonly limits?: Partial<ImportRouteLimits> | undefined;
  /** Where uploads are spooled; os.tmpdir() unless given. */
  readonly spoolDirectory?: string | undefined;
  /** The ledger's CSV mapping profile (saved or built in); without it, every ?profile= is unknown. */
  readonly csvProfile?: ((ledgerId: string, profileId: string) => Promise<CsvProfile | undefined>) | undefined;
}

export interface ImportRoutesDeps extends ImportRouteOptions {
  readonly eventStore: EventStore;
  readonly idempotency: IdempotencyStore;
  readonly inFlight?: InFlight | undefined;
}

const importQuery = z.strictObject({
  format: z.enum(STATEMENT_FORMATS).optional().describe("The file's format; detected from its content when omitted (CSV needs ?profile=)"),
  profile: csvProfileIdSchema.optional().describe("The CSV mapping profile of the ledger (`stripe` is built in); implies format csv"),
  encoding: z.enum(REQUESTABLE_ENCODINGS).optional().describe("The file's encoding; else its byte-order mark, its declaration, the CSV profile's, or sniffed (UTF-8, else windows-1252)"),
  acceptFailedChecks: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .describe("Record statements whose checks fail (the failures are kept on them) instead of rejecting the file"),
  fileName: z.string().min(1).max(500).optional().describe("The file's name, kept on its statements for auditors"),
});

/** Counts imports running in this process. */
class ImportSlots {
  private running = 0;
  constructor(private readonly max: number) {}

  /** A release, or undefined when every slot is taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.running >= this.max) return undefined;
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
    };
  }
}

export function importRoutes(deps: ImportRoutesDeps) {
  const limits: ImportRouteLimits = { ...IMPORT_ROUTE_LIMITS, ...deps.limits };
  const slots = new ImportSlots(limits.concurrentImportsMax);
  const directory = deps.spoolDirectory ?? os.tmpdir();
  const csvProfile = deps.csvProfile ?? (() => Promise.resolve(undefined));
  return async (root: FastifyInstance): Promise<void> => {
    // This plugin's own: the body is the raw stream, whatever its content type (see the top of this file).
    root.removeAllContentTypeParsers();
    root.addContentTypeParser("*", (_request, payload, done) => {
      done(null, payload);
    });
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const tags = ["reconciliation commands"];

    // A request's temporary file and slot are given back before its answer is sent (onSend runs for
    // errors too), so a client that sends its next file on the answer never finds its own slot taken.
    const cleanups = new WeakMap<FastifyRequest, () => Promise<void>>();
    app.addHook("onSend", async (request, _reply, payload) => {
      await cleanups.get(request)?.();
      return payload;
    });

    const handle = async (request: FastifyRequest, reply: Parameters<typeof run>[1], target: ImportTarget, query: z.infer<typeof importQuery>, scope: string): Promise<void> => {
      const release = slots.tryAcquire();
      if (release === undefined) throw new TrueupError("OVERLOADED", `${limits.concurrentImportsMax} imports are running in this process; retry shortly`);
      let file: SpooledFile | undefined;
      let cleaned: Promise<void> | undefined;
      const cleanup = (): Promise<void> => {
        cleaned ??= (file?.remove() ?? Promise.resolve()).finally(release);
        return cleaned;
      };
      cleanups.set(request, cleanup);
      try {
        const declared = Number(request.headers["content-length"]);
        if (Number.isFinite(declared) && declared > limits.fileBytesMax) throw fileTooLarge(limits.fileBytesMax);
        const body = request.body instanceof Readable ? request.body : Readable.from([]);
        const spooled = await spool(body, { directory, limitBytes: limits.fileBytesMax });
        file = spooled;
        // A real connection's socket; app.inject()'s stand-in has no timeout to lift.
        const socket: Partial<Pick<Socket, "setTimeout">> = request.raw.socket;
        socket.setTimeout?.(limits.processingSilenceMsMax);
        const hash = requestHash({ method: request.method, route: request.routeOptions.url ?? request.url, body: { params: request.params, query, fileSha256: spooled.sha256 } });
        await run(request, reply, {
          scope,
          status: 201,
          requestHash: hash,
          execute: async (ctx) => {
            const answer = await importStatements({ store: deps.eventStore, limits, csvProfile }, ctx, {
              target,
              file: spooled,
              format: query.format,
              profile: query.profile,
              encoding: query.encoding,
              acceptFailedChecks: query.acceptFailedChecks ?? false,
              fileName: query.fileName ?? null,
            });
            return { ...answerFields(answer), recorded: false };
          },
        });
      } finally {
        await cleanup();
      }
    };

    app.post(
      "/bank-accounts/:bankAccountId/statements",
      { schema: { tags, headers: commandHeaders, params: z.object({ bankAccountId: bankAccountIdSchema }), querystring: importQuery, ...IMPORT_DOCS.bankAccount } },
      (request, reply) => {
        const { bankAccountId } = request.params;
        return handle(request, reply, { kind: "bankAccount", bankAccountId }, request.query, `statements:bankaccount:${bankAccountId}`);
      },
    );

    app.post(
      "/ledgers/:ledgerId/statements",
      { schema: { tags, headers: commandHeaders, params: z.object({ ledgerId: ledgerIdSchema }), querystring: importQuery, ...IMPORT_DOCS.ledger } },
      (request, reply) => {
        const { ledgerId } = request.params;
        return handle(request, reply, { kind: "ledger", ledgerId }, request.query, `statements:ledger:${ledgerId}`);
      },
    );
  };
}

/** The answer as JSON fields (the runner adds revision, position, replayed). */
function answerFields(answer: ImportAnswer): z.infer<typeof importAnswerSchema> & { revision: bigint | undefined; position: string | undefined; replayed: boolean } {
  const { revision, position, replayed, ...fields } = answer;
  return { ...fields, statementIds: [...fields.statementIds], totals: [...fields.totals], checks: [...fields.checks], statements: fields.statements.map((s) => ({ ...s, totals: [...s.totals], checks: [...s.checks] })), revision, position, replayed };
}
