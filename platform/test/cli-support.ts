// The trueup CLI as an operator runs it, for the CLI tests: a child process
// (node + tsx, like `npm run trueup`), and a platform listening on a random
// port for it to talk to.
import { spawn } from "node:child_process";
import path from "node:path";
import type { Platform } from "./ledger-support.ts";

const root = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(root, "platform/src/cli/main.ts");

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with `args` (and `env` over this process's environment) to its exit. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/** Makes `platform` listen on a random local port; returns its base URL. */
export async function listenLocally(platform: Platform): Promise<string> {
  await platform.app.listen({ port: 0, host: "127.0.0.1" });
  const address = platform.app.server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return `http://127.0.0.1:${address.port}`;
}
