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
