// A transaction on one pooled client. A client whose rollback fails is
// destroyed rather than returned to the pool in an unknown state.
import type pg from "pg";

/**
 * pg emits 'error' on a client whose connection is cut, and pg-pool listens
 * only while a client is idle in the pool: cut while checked out between two
 * queries (a process manager's transaction waits on another context's
 * command), it is an uncaught exception that kills the process. The holder
 * learns of it from its next query, so the event itself is only noted.
 */
const ignoreCut = (): void => undefined;

export async function inTransaction<T>(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const tx = await pool.connect();
  tx.on("error", ignoreCut);
  try {
    return await transact(tx, work);
  } finally {
    tx.off("error", ignoreCut);
  }
}

async function transact<T>(tx: pg.PoolClient, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    await tx.query("BEGIN");
    const result = await work(tx);
    await tx.query("COMMIT");
    tx.release();
    return result;
  } catch (error) {
    await rollbackAndRelease(tx);
    throw error;
  }
}

export async function rollbackAndRelease(tx: pg.PoolClient): Promise<void> {
  try {
    await tx.query("ROLLBACK");
    tx.release();
  } catch (rollbackError) {
    tx.release(rollbackError instanceof Error ? rollbackError : true);
  }
}
