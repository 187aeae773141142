// What every route's OpenAPI description shares: the problem+json shape of
// its failures, listed per status with the codes the route can return, and
// the scalar schemas (amounts, positions, dates) documented once with their
// format and a real example. Pure schemas: the routes live in command-side,
// query-side and platform, and all of them describe their answers with these.
//
// A documented code list is for readers, not a gate: the problem schema
// accepts any code at run time (the list is an `enum` in the document only),
// so a code missing from the documentation can never turn a correct 404 into
// a 500 while the answer is serialized. platform/test/openapi.test.ts checks
// that the documentation is complete.
import { z } from "zod";
import { ERROR_CATALOGUE } from "./errors.ts";
import type { ErrorCode, RequestPart } from "./errors.ts";

const REQUEST_PARTS: readonly RequestPart[] = ["body", "querystring", "params", "headers"];

const problemFields = {
  type: z.string().meta({ format: "uri", description: "Identifies the code; stable", example: "https://trueup.dev/errors/validation-failed" }),
  title: z.string().meta({ description: "The code's title from the catalogue" }),
  status: z.number().int().meta({ description: "The HTTP status, repeated" }),
  detail: z.string().meta({ description: "What went wrong in this request, for people; clients branch on `code`" }),
  in: z.string().optional().meta({ enum: [...REQUEST_PARTS], description: "For bad input: the part of the request that holds it" }),
  path: z.string().optional().meta({ description: "For bad input: a JSON pointer into that part, e.g. /lines/1/amount or /currency" }),
};

const problemIssue = z.looseObject({ code: z.string(), in: problemFields.in, path: z.string(), detail: z.string() });

/** RFC 9457 problem details as rendered by platform/src/http/problems.ts (extra members are allowed). */
export const problemSchema = z.looseObject({
  ...problemFields,
  code: z.string().meta({ description: "A stable code from the error catalogue" }),
  errors: z.array(problemIssue).optional().meta({ description: "For bad input: every issue found (up to 20), the first one also above" }),
});

export type ProblemExample = { detail: string; in?: RequestPart; path?: string } & Record<string, unknown>;

/** Example problem details a route may override per code (default: the code's title as detail). */
export type ProblemExamples = Partial<Record<ErrorCode, ProblemExample>>;

const DEFAULT_EXAMPLES: ProblemExamples = {
  VALIDATION_FAILED: { detail: "querystring/limit: a page holds 1 to 1000 rows", in: "querystring", path: "/limit" },
  CURRENCY_UNKNOWN: { detail: "querystring/currency: unknown ISO 4217 currency \"XYZ\"", in: "querystring", path: "/currency" },
  LEDGER_NOT_FOUND: { detail: "no ledger acme" },
  ACCOUNT_NOT_FOUND: { detail: "no account 9999 in ledger acme" },
  READ_MODEL_BEHIND: { detail: "read model has not reached 0000000000002f1a0000000000000003 within 5000 ms; retry" },
  OVERLOADED: { detail: "1000 reads already wait for projection ledger to catch up; retry" },
  STORE_UNAVAILABLE: { detail: "storage unavailable: connection refused; retry with the same Idempotency-Key" },
  INTERNAL: { detail: "internal error; it has been logged" },
};

function exampleOf(code: ErrorCode, examples: ProblemExamples): Record<string, unknown> {
  const entry = ERROR_CATALOGUE[code];
  const given = examples[code] ?? DEFAULT_EXAMPLES[code] ?? { detail: entry.title };
  return { type: `https://trueup.dev/errors/${code.toLowerCase().replaceAll("_", "-")}`, title: entry.title, status: entry.status, code, ...given };
}

/** A route's response content for one status: problem+json, listing the codes it can answer with. */
export interface ProblemResponse {
  readonly description: string;
  readonly content: { readonly "application/problem+json": { readonly schema: z.ZodType } };
}

/**
 * The documented failure responses of a route, grouped by the status the
 * catalogue gives each code. INTERNAL (500) is added to every route: any
 * route can fail in a way nobody planned for. A 503 answer carries
 * Retry-After.
 */
export function problemResponses(codes: readonly ErrorCode[], examples: ProblemExamples = {}): Record<number, ProblemResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set<ErrorCode>([...codes, "INTERNAL"])) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, ProblemResponse> = {};
  for (const [status, listed] of [...byStatus].sort(([a], [b]) => a - b)) {
    const [first] = listed;
    if (first === undefined) continue;
    const lines = listed.map((code) => `\`${code}\`: ${ERROR_CATALOGUE[code].title}`).join("; ");
    const retry = status === 503 ? " Sent with Retry-After (seconds); nothing was written." : "";
    const schema = problemSchema
      .extend({ code: z.string().meta({ enum: listed, description: "One of the codes listed for this status" }) })
      .meta({ description: `Problem details (application/problem+json)`, example: exampleOf(first, examples) });
    responses[status] = { description: `${lines}.${retry}`, content: { "application/problem+json": { schema } } };
  }
  return responses;
}

// --- documented scalars -------------------------------------------------------

/** An amount or a sum as the API writes it: a decimal string in its currency's exponent, never a JSON number. */
export const decimalAmountDto = z
  .string()
  .regex(/^\d+(\.\d+)?$/)
  .meta({
    description: "Decimal string with exactly the currency's number of decimals (EUR 2, JPY 0, KWD 3); never a JSON number. Direction is given by `side`, never by a sign.",
    example: "1250.00",
  });

/** A log position as commands return it; `minPosition` takes it back. */
export const POSITION_PATTERN = /^[0-9a-f]{32}$/;
export const positionDto = z
  .string()
  .regex(POSITION_PATTERN, "a position as returned by a command (32 lowercase hex digits)")
  .meta({
    description: "Opaque, totally ordered position in the event log (32 lowercase hex digits), as returned by a command",
    example: "00000000000002f10000000000000004",
  });

/** A calendar date, documented with its format (validation stays with the schema it wraps). */
export function documentedDate<T extends z.ZodType>(schema: T, description: string, example = "2026-03-31"): T {
  return schema.meta({ format: "date", description: `${description} (YYYY-MM-DD)`, example });
}
