// Polls a read until it satisfies a condition, for tests that wait on an
// asynchronous worker (a projection, a process manager). The wait is bounded
// by wall-clock time, not by a count of tries, so a loaded machine that makes
// each read slower does not shorten it. On time-out the test fails naming
// what never happened and the last value seen; that value is described only
// then, and safely (an HTTP response by its status and body: it holds its
// socket, which JSON cannot follow).
import { expect } from "vitest";

export interface EventuallyOptions {
  /** How long to keep trying, in milliseconds. */
  timeoutMs?: number;
  /** The pause between two reads, in milliseconds. */
  intervalMs?: number;
}

export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 45_000, intervalMs = 50 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) expect.fail(`${what} within ${timeoutMs} ms; last seen: ${describe(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function describe(value: unknown): string {
  if (typeof value === "object" && value !== null && "statusCode" in value && "body" in value) {
    return `HTTP ${String(value.statusCode)} ${String(value.body)}`;
  }
  try {
    if (value === undefined) return "undefined";
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
  } catch (error) {
    return `(not describable: ${error instanceof Error ? error.message : String(error)})`;
  }
}
