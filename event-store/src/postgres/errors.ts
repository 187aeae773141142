// Maps node-postgres failures to the port's errors: anything that means "the
// database is not there or not able to answer now" becomes StoreUnavailable
// (callers answer 503 and may retry); anything else is a bug and stays as is.
import pg from "pg";
import { StoreUnavailableError } from "../port.ts";

const UNAVAILABLE_SQLSTATE_PREFIXES = ["08", "53", "57P", "58"];
const UNAVAILABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "EAI_AGAIN"]);

export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (error instanceof pg.DatabaseError) {
    const code = error.code ?? "";
    // 57014 = statement timeout / cancelled: the server is there but too slow for us now.
    return UNAVAILABLE_SQLSTATE_PREFIXES.some((p) => code.startsWith(p));
  }
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && UNAVAILABLE_NODE_CODES.has(code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/i.test(error.message);
}

export function mapPgError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error;
  if (isUnavailable(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new StoreUnavailableError(`event store unavailable: ${message}`, { cause: error });
  }
  return error;
}
