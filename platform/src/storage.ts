// Chooses and opens storage from the configuration: embedded PostgreSQL by
// default, an external PostgreSQL with DATABASE_URL, EventStoreDB for the log
// with EVENTSTORE_URL. Returns one handle that closes everything in order.
import path from "node:path";
import pg from "pg";
import type { EventStore } from "@trueup/event-store";
import { EventStoreDbEventStore, PostgresEventStore, describeHorizonHeld } from "@trueup/event-store";
import type { Config } from "./config.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";

export interface Storage {
  readonly pool: pg.Pool;
  /** Same database, synchronous_commit off: for writes the event log makes durable (see compose). */
  readonly relaxedPool: pg.Pool;
  readonly eventStore: EventStore;
  readonly description: string;
  /** Cheap probe for /ready: can we reach the database right now? */
  ping(): Promise<void>;
  /**
   * Storage that cannot come back by itself (the embedded server died):
   * called once with the reason. An external database's outage is not
   * this: it is retried for as long as it lasts.
   */
  onFatal(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

export const EMBEDDED_DATABASE = "trueup";
const POOL_CONNECT_TIMEOUT_MS = 5_000;
const POOL_IDLE_TIMEOUT_MS = 30_000;
const STATEMENT_TIMEOUT_MS = 30_000;
/**
 * Readers of the PostgreSQL log only see below the oldest running
 * transaction on the whole server, so one transaction of ours left open (a
 * hung await between two statements) would freeze every subscriber: the
 * server ends such a session after this. Our transactions only ever wait
 * on their own next statement, so this is generous. Other applications on
 * the same server need the same setting for their roles (README).
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 15_000;
export const SESSION_TIMEOUTS = { statement_timeout: STATEMENT_TIMEOUT_MS, idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS } as const;

/** How long a closing pool waits for its connections to finish closing. */
const POOL_END_WAIT_MS = 2_000;

export async function openStorage(config: Config, log: (line: string) => void): Promise<Storage> {
  const closers: (() => Promise<void>)[] = [];
  const fatalListeners: ((reason: string) => void)[] = [];
  try {
    let connection: pg.ClientConfig;
    let description: string;
    if (config.databaseUrl === undefined) {
      const server = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, "pg"),
        port: 0,
        database: EMBEDDED_DATABASE,
        onLog: (line) => {
          if (/ERROR|FATAL|PANIC/.test(line)) log(`postgres: ${line}`);
        },
      });
      closers.push(() => server.stop());
      server.onDeath((reason) => {
        for (const listener of fatalListeners) listener(reason);
      });
      connection = server.clientConfig;
      description = `embedded PostgreSQL in ${path.join(config.dataDir, "pg")}`;
    } else {
      connection = { connectionString: config.databaseUrl };
      description = "PostgreSQL at DATABASE_URL";
    }
    const openPool = (name: string, max: number, extra: pg.PoolConfig = {}): pg.Pool => {
      const opened = new pg.Pool({
        ...connection,
        max,
        connectionTimeoutMillis: POOL_CONNECT_TIMEOUT_MS,
        idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS,
        ...SESSION_TIMEOUTS,
        application_name: name,
        ...extra,
      });
      // An idle client losing its connection is not fatal: the pool replaces it.
      opened.on("error", (error) => {
        log(`postgres pool ${name}: ${error.message}`);
      });
      // pool.end() resolves once its clients are told to end, not once they have: wait for them (bounded), so
      // the embedded server does not stop under a connection still closing (it logs that as FATAL).
      const open = new Set<pg.PoolClient>();
      opened.on("connect", (client) => {
        open.add(client);
        client.once("end", () => open.delete(client));
        // pg emits 'error' on a client whose connection is cut, and pg-pool listens only while the client is
        // idle: cut while checked out (a transaction between queries, a server restart under load), it was an
        // uncaught exception that killed the process. The holder still gets the error from its query.
        client.on("error", (error) => {
          log(`postgres pool ${name}: connection lost while in use: ${error.message}`);
        });
      });
      closers.push(async () => {
        await opened.end();
        const ended = Promise.all([...open].map((client) => new Promise((resolve) => client.once("end", resolve))));
        await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, POOL_END_WAIT_MS).unref())]);
      });
      return opened;
    };
    const pool = openPool("trueup", config.pgPoolMax);
    const relaxedPool = openPool("trueup-relaxed", Math.max(2, Math.floor(config.pgPoolMax / 4)), { options: "-c synchronous_commit=off" });

    let eventStore: EventStore;
    if (config.eventStoreUrl === undefined) {
      eventStore = await PostgresEventStore.open({
        pool,
        listenConnection: { ...connection, ...SESSION_TIMEOUTS, application_name: "trueup-listen" },
        onHorizonHeld: (report) => {
          log(describeHorizonHeld(report));
        },
      });
    } else {
      eventStore = EventStoreDbEventStore.connect(config.eventStoreUrl);
      description += ", EventStoreDB at EVENTSTORE_URL for the event log";
    }
    closers.push(() => eventStore.close());
    return {
      pool,
      relaxedPool,
      eventStore,
      description,
      ping: async () => {
        await pool.query("SELECT 1");
      },
      onFatal: (listener) => {
        fatalListeners.push(listener);
      },
      close: () => closeAll(closers),
    };
  } catch (error) {
    await closeAll(closers);
    throw error;
  }
}

async function closeAll(closers: (() => Promise<void>)[]): Promise<void> {
  for (const close of closers.reverse()) {
    await close().catch(() => undefined);
  }
}
