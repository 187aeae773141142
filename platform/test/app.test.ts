// Proves the HTTP shell: liveness never depends on storage; readiness reports
// 503 when storage is unreachable and 200 when it answers.
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";

describe("health and readiness", () => {
  it("GET /health answers 200 even when storage is down", async () => {
    const app = await buildApp({ services: ["command"], logLevel: "silent", ping: () => Promise.reject(new Error("down")) });
    const response = await app.inject({ method: "GET", url: "/health" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
    await app.close();
  });

  it("GET /ready answers 503 with the reason when storage is down, 200 when it is up", async () => {
    let up = false;
    const app = await buildApp({
      services: ["command", "query"],
      logLevel: "silent",
      ping: () => (up ? Promise.resolve() : Promise.reject(new Error("connection refused"))),
    });
    const down = await app.inject({ method: "GET", url: "/ready" });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({ status: "unavailable", reason: "connection refused" });
    up = true;
    const ready = await app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready", services: ["command", "query"] });
    await app.close();
  });
});
