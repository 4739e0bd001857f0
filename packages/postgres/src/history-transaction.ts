import { TidemarkError } from "@tidemark/core";
import type pg from "pg";
import { mapPgError } from "./errors.js";

/**
 * Runs `body` in a transaction on one pooled client: COMMIT when it resolves,
 * ROLLBACK when it throws. A client whose connection broke (or whose ROLLBACK
 * failed) is destroyed instead of going back to the pool. Errors from the
 * driver are mapped with `subject`; errors `body` throws itself pass unchanged.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  subject: string,
  body: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw mapPgError(error, subject);
  }
  // A connection cut while no query runs is reported as an 'error' event; unheard, it would crash the process.
  let broken: unknown = null;
  const onError = (error: unknown) => {
    broken = error;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await body(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch (rollbackError) {
      broken ??= rollbackError;
    }
    throw error instanceof TidemarkError ? error : mapPgError(error, subject);
  } finally {
    client.off("error", onError);
    client.release(broken === null ? undefined : broken instanceof Error ? broken : new Error(String(broken)));
  }
}
