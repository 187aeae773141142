// Maps @eventstore/db-client failures to the port's errors. "The server is not
// there or cannot answer now" becomes StoreUnavailable (callers answer 503 and
// may retry: appends are idempotent by event id); a wrong expected version
// becomes WrongExpectedRevision; anything else is a bug and stays as it is.
import {
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  StreamDeletedError,
  StreamNotFoundError as EsdbStreamNotFoundError,
  TimeoutError,
  UnavailableError,
  WrongExpectedVersionError,
  convertToCommandError,
} from "@eventstore/db-client";
import { InvalidAppendError, StoreUnavailableError, StreamNotFoundError, WrongExpectedRevisionError } from "../port.ts";
import type { ExpectedRevision } from "../port.ts";
import { toActualRevision } from "./mapping.ts";

const UNAVAILABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "EAI_AGAIN"]);

/**
 * Raw gRPC errors (for example from the client's server-features probe) are
 * not converted by the client everywhere; convert them here. The client's
 * converter reads `details`, so only hand it errors shaped like gRPC's.
 */
export function toCommandError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const grpcShaped = "code" in error && typeof error.code === "number" && "details" in error && typeof error.details === "string";
  return grpcShaped ? convertToCommandError(error) : error;
}

export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  // Timeout is gRPC ABORTED: the server gave up on the request within its deadline.
  // Cancelled here is a server-side cancel; the client swallows its own cancels.
  const transient = [UnavailableError, DeadlineExceededError, NotLeaderError, TimeoutError, CancelledError];
  if (transient.some((kind) => error instanceof kind)) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  if (!(error instanceof Error)) return false;
  if ("code" in error && typeof error.code === "string" && UNAVAILABLE_NODE_CODES.has(error.code)) return true;
  // Cluster discovery (dist/Client/discovery.js) throws a plain Error with this text.
  return /Failed to discover after \d+ attempts|connection refused|No connection established/i.test(error.message);
}

export function mapEsdbError(error: unknown): unknown {
  const converted = toCommandError(error);
  if (converted instanceof StoreUnavailableError) return converted;
  if (isUnavailable(converted)) {
    const message = converted instanceof Error ? converted.message : String(converted);
    return new StoreUnavailableError(`event store unavailable: ${message}`, { cause: error });
  }
  return converted;
}

export function mapAppendError(error: unknown, stream: string, expected: ExpectedRevision): unknown {
  const converted = toCommandError(error);
  if (converted instanceof WrongExpectedVersionError) {
    return new WrongExpectedRevisionError(stream, expected, toActualRevision(converted.actualVersion));
  }
  if (converted instanceof MaxAppendSizeExceededError) {
    return new InvalidAppendError(`append exceeds the server's maximum append size of ${converted.maxAppendSize} bytes`);
  }
  return mapEsdbError(converted);
}

/** Our streams are never deleted; a deleted stream reads as one without events. */
export function mapReadStreamError(error: unknown, stream: string): unknown {
  const converted = toCommandError(error);
  if (converted instanceof EsdbStreamNotFoundError || converted instanceof StreamDeletedError) return new StreamNotFoundError(stream);
  return mapEsdbError(converted);
}
