// The platform in its own process, as deployed (`platform/src/main.ts`
// through tsx), for the HTTP phases of a bench: started on a free port, ready
// when GET /ready answers 200, stopped with SIGTERM as an operator would.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { freePort } from "../../platform/src/embedded-postgres.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** How long the platform may take to become ready (tsx compiles on start; the machine may be busy). */
export const SERVER_START_MS = 60_000;
const READY_POLL_MS = 200;
/** Connections to PostgreSQL the platform may open, for 64 HTTP clients plus its projection worker. */
const SERVER_POOL_MAX = 40;

export interface PlatformServer {
  readonly child: ChildProcess;
  readonly url: string;
}

export async function startPlatform(env: Record<string, string>): Promise<PlatformServer> {
  const port = await freePort();
  const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "platform/src/main.ts")], {
    env: { ...process.env, LOG_LEVEL: "warn", PORT: String(port), PG_POOL_MAX: String(SERVER_POOL_MAX), ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + SERVER_START_MS;
  while (Date.now() < deadline) {
    if (await fetch(`${url}/ready`).then((r) => r.ok, () => false)) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  child.kill("SIGKILL");
  throw new Error(`the platform did not become ready within ${SERVER_START_MS} ms`);
}

export async function stopPlatform(server: PlatformServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

/** A command through the API with a fresh idempotency key; anything but 2xx fails the bench. */
export async function postCommand(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "idempotency-key": randomUUID() }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
}

/** How long a bench waits, untimed, for the platform's projections to catch up between turns. */
export const CATCH_UP_WAIT_MS = 120_000;
const CATCH_UP_POLL_MS = 200;

/**
 * Waits until every projection of the platform is 0 events behind (GET /projections), so the
 * next turn does not pay for the catch-up of the previous one. Gives up after CATCH_UP_WAIT_MS,
 * or at once if the answer has an unexpected shape, and says so: the turn then runs anyway.
 */
export async function waitForProjections(url: string, log: (message: string) => void): Promise<void> {
  const deadline = Date.now() + CATCH_UP_WAIT_MS;
  let behind = Number.NaN;
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/projections`);
    const body: unknown = response.ok ? await response.json() : undefined;
    const items = typeof body === "object" && body !== null && "items" in body && Array.isArray(body.items) ? (body.items as unknown[]) : undefined;
    const counts = items?.map((item) => (typeof item === "object" && item !== null && "eventsBehind" in item ? item.eventsBehind : undefined));
    if (counts === undefined || counts.some((c) => typeof c !== "number")) {
      log(`GET /projections answered ${response.status} in an unexpected shape; not waiting for the projections`);
      return;
    }
    behind = (counts as number[]).reduce((a, b) => a + b, 0);
    if (behind === 0) return;
    await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL_MS));
  }
  log(`the projections were still ${behind} events behind after ${CATCH_UP_WAIT_MS} ms; the next turn runs anyway`);
}
