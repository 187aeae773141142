// Renders every failure once, at the edge, as application/problem+json with a
// stable code from the catalogue and, for bad input, the exact location
// (`in`: body/querystring/params/headers, `path`: the field path).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { TrueupError, isErrorCode, problem, problemOf } from "@trueup/contracts";
import type { Problem } from "@trueup/contracts";
import { StoreUnavailableError, isPostgresUnavailable } from "@trueup/event-store";

const ERRORS_LISTED_MAX = 20;
const RETRY_AFTER_SECONDS = "1";

function fromValidation(error: FastifyError): Problem | undefined {
  if (!hasZodFastifySchemaValidationErrors(error)) return undefined;
  const where = error.validationContext ?? "body";
  const errors = error.validation.flatMap((issue) => {
    const params = issue.params as { params?: { code?: unknown }; keys?: unknown };
    const code = isErrorCode(params.params?.code) ? params.params.code : "VALIDATION_FAILED";
    // An unknown key is reported at its parent; name the key itself, so "?externalReference=…" says which parameter.
    if (issue.keyword === "unrecognized_keys" && Array.isArray(params.keys)) {
      const parent = issue.instancePath === "/" ? "" : issue.instancePath;
      const what = where === "querystring" ? "parameter" : "field";
      return params.keys.map((key) => ({ code, in: where, path: `${parent}/${String(key)}`, detail: `unknown ${what} ${JSON.stringify(key)}` }));
    }
    return [{ code, in: where, path: issue.instancePath, detail: issue.message ?? "is invalid" }];
  }).slice(0, ERRORS_LISTED_MAX);
  const first = errors[0];
  if (first === undefined) return undefined;
  return problem(first.code, `${where}${first.path === "/" ? "" : first.path}: ${first.detail}`, { in: where, path: first.path, errors });
}

/** What the renderer knows about the request beyond the error: the limits its messages state. */
export interface ProblemContext {
  /** The body limit of the route that refused the body (fastify's `bodyLimit`, per route or app-wide). */
  readonly bodyLimitBytes?: number;
}

export function toProblem(error: unknown, context: ProblemContext = {}): Problem {
  if (error instanceof TrueupError) return problemOf(error);
  // Read models and idempotency keys live in PostgreSQL too: its outages are 503s wherever they surface.
  if (error instanceof StoreUnavailableError || isPostgresUnavailable(error)) {
    return problem("STORE_UNAVAILABLE", error instanceof Error ? error.message : "storage unavailable");
  }
  const fastifyError = error as FastifyError;
  const fromZod = fromValidation(fastifyError);
  if (fromZod !== undefined) return fromZod;
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      // A client told only "too large" cannot tell how much to cut: name the limit.
      return problem(
        "PAYLOAD_TOO_LARGE",
        context.bodyLimitBytes === undefined ? fastifyError.message : `the request body is larger than the limit of ${context.bodyLimitBytes} bytes`,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return problem("UNSUPPORTED_MEDIA_TYPE", fastifyError.message);
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_VALIDATION":
      return problem("VALIDATION_FAILED", fastifyError.message, { in: "body" });
    default:
      break;
  }
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { ...problem("VALIDATION_FAILED", fastifyError.message), status: fastifyError.statusCode };
  }
  return problem("INTERNAL", "internal error; it has been logged");
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  if (body.status === 503) void reply.header("retry-after", RETRY_AFTER_SECONDS);
  return reply.code(body.status).type("application/problem+json").send(body);
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const body = toProblem(error, { bodyLimitBytes: request.routeOptions.bodyLimit });
    if (body.status >= 500) request.log.error({ err: error }, "request failed");
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, problem("NOT_FOUND", `no route ${request.method} ${request.url}`)));
}
