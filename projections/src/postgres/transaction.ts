// A transaction on one pooled client. A client whose rollback fails is
// destroyed rather than returned to the pool in an unknown state.
import type pg from "pg";

export async function inTransaction<T>(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const tx = await pool.connect();
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
