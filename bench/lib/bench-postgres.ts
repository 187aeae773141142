// A throwaway PostgreSQL server for one bench run: a fresh cluster in a new
// temporary folder, default (durable) settings, deleted afterwards.
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../../platform/src/embedded-postgres.ts";
import type { RunningPostgres } from "../../platform/src/embedded-postgres.ts";

export interface BenchPostgres {
  readonly server: RunningPostgres;
  /** Process id of the postmaster (parent of every backend), or undefined when it is not running. */
  serverPid(): number | undefined;
  /** Client settings for another database on the same server (created here). */
  createDatabase(name: string): Promise<pg.ClientConfig>;
  /** Stops the server and deletes its folder; safe to call twice. */
  dispose(): Promise<void>;
}

const DATABASE_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

export async function startBenchPostgres(options: { database: string; onLog?: (line: string) => void }): Promise<BenchPostgres> {
  const folder = await mkdtemp(path.join(tmpdir(), "trueup-bench-"));
  // Run as root, the server drops to the `postgres` user, which must reach the cluster folder.
  await chmod(folder, 0o755);
  const dataDir = path.join(folder, "pgdata");
  let server: RunningPostgres;
  try {
    server = await startEmbeddedPostgres({
      dataDir,
      port: 0,
      database: options.database,
      ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
    });
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
  let disposed = false;
  return {
    server,
    serverPid: () => postmasterPid(dataDir),
    async createDatabase(name) {
      if (!DATABASE_NAME_PATTERN.test(name)) throw new RangeError(`invalid database name ${JSON.stringify(name)}`);
      const admin = new pg.Client(server.clientConfig);
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return { ...server.clientConfig, database: name };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await server.stop();
      } finally {
        await rm(folder, { recursive: true, force: true });
      }
    },
  };
}

export function connectionString(config: pg.ClientConfig): string {
  const { user, password, host, port, database } = config;
  if (user === undefined || typeof password !== "string" || host === undefined || port === undefined || database === undefined) {
    throw new TypeError("client config needs user, password, host, port and database");
  }
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n", 1)[0] ?? "", 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
