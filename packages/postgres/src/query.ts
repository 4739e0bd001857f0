import { createHash } from "node:crypto";
import { BackendUnavailableError, DeadlineError, raceAbort, withDeadline } from "@tidemark/core";
import type pg from "pg";
import { mapPgError } from "./errors.js";

/** One statement: its SQL, its parameters, and a name to prepare it under once per connection. */
export interface Statement {
  readonly text: string;
  readonly name: string;
}

/** A statement prepared by name on each connection (saves the parse on every call), named after its text. */
export function statement(text: string): Statement {
  return { text, name: `tidemark_${createHash("sha256").update(text).digest("hex").slice(0, 24)}` };
}

/**
 * Runs one statement on a pooled connection, giving up when `signal` aborts
 * (the engine's deadline, a caller's cancel). A connection given up on, or
 * that failed, is destroyed rather than returned to the pool: its statement
 * may still be running, and what happened to it is for a read-back to settle.
 * Driver errors are mapped with `subject`, never showing the connection string.
 */
export async function query<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  subject: string,
  sql: Statement,
  values: readonly unknown[],
  signal: AbortSignal,
): Promise<pg.QueryResult<R>> {
  signal.throwIfAborted();
  const client = await connectClient(pool, subject, signal);
  let broken: Error | undefined;
  // A connection cut between statements is reported as an 'error' event; unheard, it would crash the process.
  const onError = (error: Error) => {
    broken ??= error;
  };
  client.on("error", onError);
  const running = client.query<R>({ name: sql.name, text: sql.text, values: [...values] });
  try {
    return await raceAbort(running, signal);
  } catch (error) {
    broken ??= error instanceof Error ? error : new Error(String(error));
    if (signal.aborted) throw signal.reason;
    throw mapPgError(error, subject);
  } finally {
    client.off("error", onError);
    running.catch(() => {});
    client.release(broken);
  }
}

/**
 * `query` with a deadline of its own: on expiry the statement counts as
 * unknown (`BackendUnavailableError` naming `subject`), as when the server
 * stops answering.
 */
export async function queryWithin<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  subject: string,
  sql: Statement,
  values: readonly unknown[],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<pg.QueryResult<R>> {
  try {
    return await withDeadline(subject, timeoutMs, signal, (s) => query<R>(pool, subject, sql, values, s));
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (error instanceof DeadlineError) throw new BackendUnavailableError(error.message, { cause: error });
    throw error;
  }
}

async function connectClient(pool: pg.Pool, subject: string, signal: AbortSignal): Promise<pg.PoolClient> {
  const connecting = pool.connect();
  try {
    return await raceAbort(connecting, signal);
  } catch (error) {
    if (signal.aborted) {
      // The connection may still arrive: hand it straight back.
      connecting.then(
        (client) => client.release(),
        () => {},
      );
      throw signal.reason;
    }
    throw mapPgError(error, subject);
  }
}
