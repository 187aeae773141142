// Proves the request-body limit at its edge, through the real composed API: a
// body of exactly HTTP_LIMITS.bodyLimitBytes is read and handled like any
// other, one byte more is refused with 413 PAYLOAD_TOO_LARGE whose message
// states the limit in bytes, and the refused request writes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_LIMITS } from "../src/app.ts";
import type { Platform } from "./ledger-support.ts";
import { command, startPlatform } from "./ledger-support.ts";

/** A valid JSON body of exactly `bytes` bytes: the object, then insignificant whitespace. */
function paddedTo(bytes: number, value: unknown): string {
  const json = JSON.stringify(value);
  const length = Buffer.byteLength(json);
  expect(length).toBeLessThan(bytes);
  return json + " ".repeat(bytes - length);
}

describe("request body limit", () => {
  let p: Platform;
  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(async () => {
    await p.close();
  });

  it("handles a body of exactly the limit", async () => {
    const body = paddedTo(HTTP_LIMITS.bodyLimitBytes, { ledgerId: "at_limit", name: "At the limit", baseCurrency: "EUR" });
    expect(Buffer.byteLength(body)).toBe(HTTP_LIMITS.bodyLimitBytes);
    const response = await command(p.app, "/ledgers", body);
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ ledgerId: "at_limit" });
  });

  it("refuses one byte over with 413 PAYLOAD_TOO_LARGE stating the limit, and writes nothing", async () => {
    const body = paddedTo(HTTP_LIMITS.bodyLimitBytes + 1, { ledgerId: "over_limit", name: "Over the limit", baseCurrency: "EUR" });
    const response = await command(p.app, "/ledgers", body);
    expect(response.statusCode).toBe(413);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const problem = response.json<{ code: string; detail: string }>();
    expect(problem.code).toBe("PAYLOAD_TOO_LARGE");
    expect(problem.detail).toContain(`${HTTP_LIMITS.bodyLimitBytes} bytes`);
    const written = await p.db.pool.query("SELECT count(*)::int AS n FROM es_events WHERE stream_name LIKE '%over_limit%'");
    expect(written.rows).toEqual([{ n: 0 }]);
  });
});
