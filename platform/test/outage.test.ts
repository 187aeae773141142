// The short form of `npm run bench:outage` (bench/lib/outage-check.ts): an
// external PostgreSQL, started here and used through DATABASE_URL, stopped for
// 10 s under a small posting load and started again; the platform (its own
// process, never restarted) catches up by itself: every 201 once in the log
// and in the read model, every 503'd key retried posts once, /ready 503 for
// the whole outage. The 3-minute outage is the bench script's default
// (too long for the suite); this proves the same checks on every run.
import { describe, expect, it } from "vitest";
import { runOutageCheck } from "../../bench/lib/outage-check.ts";

describe("an outage of the external PostgreSQL under posting load", () => {
  it("leaves a platform that catches up by itself", async () => {
    const lines: string[] = [];
    const result = await runOutageCheck({
      outageMs: 10_000,
      clients: 2,
      postIntervalMs: 100,
      loadBeforeMs: 2_000,
      loadAfterMs: 3_000,
      postsMax: 2_000,
      log: (line) => lines.push(line),
    });
    expect(result.failures, lines.join("\n")).toEqual([]);
    // The outage was really met: some postings were refused, and the retries made them land.
    const refused = result.figures.find((f) => f.name === "first answer 503 or none");
    expect(refused?.value).toBeGreaterThan(0);
  }, 600_000);
});
