// The tests' polling helper: it waits by the clock, and a read that is not
// ready yet (an HTTP 404 whose response holds a socket) is neither an error
// nor described until the wait runs out.
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { eventually } from "../../test-support/eventually.ts";

describe("eventually", () => {
  it("keeps reading past answers that are not ready, and returns the first that is", async () => {
    const app = Fastify();
    let calls = 0;
    app.get("/run", async (_request, reply) => (++calls < 4 ? reply.code(404).send({ code: "NOT_YET" }) : { ok: true }));
    const answer = await eventually(() => app.inject({ method: "GET", url: "/run" }), (r) => r.statusCode === 200, "the run never showed", { intervalMs: 1 });
    expect(answer.json()).toEqual({ ok: true });
    expect(calls).toBe(4);
    await app.close();
  });

  it("fails once its time is up, naming what never happened and the last answer by status and body", async () => {
    const app = Fastify();
    app.get("/run", async (_request, reply) => reply.code(404).send({ code: "NOT_YET" }));
    const started = Date.now();
    await expect(eventually(() => app.inject({ method: "GET", url: "/run" }), (r) => r.statusCode === 200, "the run never showed", { timeoutMs: 200, intervalMs: 10 }))
      .rejects.toThrow('the run never showed within 200 ms; last seen: HTTP 404 {"code":"NOT_YET"}');
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await app.close();
  });

  it("describes a value JSON cannot hold without throwing over it", async () => {
    const circular: { self?: unknown; amount: bigint } = { amount: 12n };
    circular.self = circular;
    await expect(eventually(() => Promise.resolve(circular), () => false, "never", { timeoutMs: 0 })).rejects.toThrow(/never within 0 ms; last seen: \(not describable: /);
    await expect(eventually(() => Promise.resolve({ amount: 12n }), () => false, "never", { timeoutMs: 0 })).rejects.toThrow('last seen: {"amount":"12n"}');
  });
});
