// Test helper: a fresh database per test file inside the run's embedded PostgreSQL.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    postgres: { host: string; port: number; user: string; password: string; database: string };
  }
}

export interface TestDatabase {
  readonly config: pg.ClientConfig;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

/**
 * `ownRole`: the database belongs to a fresh non-superuser role and `config`
 * logs in as it, so a test can refuse that role's connections (superusers
 * ignore connection limits).
 */
export async function createTestDatabase(options: { poolMax?: number; ownRole?: boolean } = {}): Promise<TestDatabase> {
  const server = inject("postgres");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client(server);
  await admin.connect();
  let config: pg.ClientConfig = { ...server, database: name };
  if (options.ownRole === true) {
    const password = randomBytes(12).toString("hex");
    await admin.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${name} OWNER ${name}`);
    config = { ...config, user: name, password };
  } else {
    await admin.query(`CREATE DATABASE ${name}`);
  }
  const pool = new pg.Pool({ ...config, max: options.poolMax ?? 20, idleTimeoutMillis: 10_000, connectionTimeoutMillis: 10_000 });
  // Idle clients error when a test terminates backends on purpose; the pool replaces them.
  pool.on("error", () => undefined);
  return {
    config,
    pool,
    drop: async () => {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      if (options.ownRole === true) await admin.query(`DROP ROLE IF EXISTS ${name}`);
      await admin.end();
    },
  };
}
