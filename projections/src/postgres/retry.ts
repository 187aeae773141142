// Transient failures (the database is away, a lock wait timed out, a deadlock
// or serialization failure) are retried with capped exponential backoff, a
// bounded number of times in a row; anything else is a bug and is not retried.
import pg from "pg";
import { isPostgresUnavailable } from "@trueup/event-store";

export interface RetryPolicy {
  /** Failures in a row before giving up (the counter resets after a success). */
  readonly attemptsMax: number;
  readonly delayFirstMs: number;
  readonly delayMaxMs: number;
}

/** About 80 s of outage tolerated (20 attempts, capped at 5 s) before the worker stops with the error. */
export const RETRY_DEFAULT: RetryPolicy = { attemptsMax: 20, delayFirstMs: 50, delayMaxMs: 5_000 };

// 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available (lock_timeout).
const TRANSIENT_SQLSTATES = new Set(["40001", "40P01", "55P03"]);

export function isTransient(error: unknown): boolean {
  if (error instanceof pg.DatabaseError && TRANSIENT_SQLSTATES.has(error.code ?? "")) return true;
  return isPostgresUnavailable(error);
}

/** Delay before retry number `attempt` (1-based): first, 2×first, 4×first … capped, with ±20 % jitter. */
export function backoffDelayMs(policy: RetryPolicy, attempt: number): number {
  const exponent = Math.min(attempt - 1, 30);
  const delayMs = Math.min(policy.delayFirstMs * 2 ** exponent, policy.delayMaxMs);
  return Math.round(delayMs * (0.8 + Math.random() * 0.4));
}

export class RetriesExhaustedError extends Error {
  override readonly name = "RetriesExhaustedError";
}

export function checkRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const { attemptsMax, delayFirstMs, delayMaxMs } = policy;
  if (!Number.isInteger(attemptsMax) || attemptsMax < 0 || attemptsMax > 1_000) throw new RangeError("retry attemptsMax must be in 0..1000");
  if (!(delayFirstMs >= 1 && delayMaxMs >= delayFirstMs && delayMaxMs <= 300_000)) throw new RangeError("retry delays must satisfy 1 <= first <= max <= 300000 ms");
  return policy;
}

/** Runs `operation`, retrying transient failures per `policy`; `sleep` may be interruptible. */
export async function withRetry<T>(
  operation: () => Promise<T>,
  options: { readonly policy: RetryPolicy; readonly what: string; readonly sleep?: (delayMs: number) => Promise<void> },
): Promise<T> {
  const sleep = options.sleep ?? ((delayMs: number) => new Promise<void>((resolve) => setTimeout(resolve, delayMs)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attempt > options.policy.attemptsMax) {
        throw new RetriesExhaustedError(`${options.what}: still failing after ${attempt} attempts`, { cause: error });
      }
      await sleep(backoffDelayMs(options.policy, attempt));
    }
  }
}
