// Problem details (RFC 9457) for the catalogue's errors: one shape for every
// failure a client sees, whichever service produced it.
import { ERROR_CATALOGUE, TrueupError } from "./errors.ts";
import type { ErrorCode } from "./errors.ts";

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  in?: string;
  path?: string;
  errors?: { code: ErrorCode; in?: string; path: string; detail: string }[];
  [extra: string]: unknown;
}

export function problem(code: ErrorCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const entry = ERROR_CATALOGUE[code];
  return { type: `https://trueup.dev/errors/${code.toLowerCase().replaceAll("_", "-")}`, title: entry.title, status: entry.status, code, detail, ...extra };
}

export function problemOf(error: TrueupError): Problem {
  return problem(error.code, error.message, {
    ...(error.path === undefined ? {} : { in: error.in, path: `/${error.path.join("/")}` }),
    ...(error.detail ?? {}),
  });
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && code in ERROR_CATALOGUE;
}
