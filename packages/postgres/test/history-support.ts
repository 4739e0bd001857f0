// Shared by the history tests: a pool for raw SQL (what is really stored), a commit table of their
// own that tests move directly, and kit entries.
import type { KitEntry } from "@tidemark/conformance";
import { BackendUnavailableError, isTidemarkError, type Pointer, sleep } from "@tidemark/core";
import pg from "pg";
import { inject } from "vitest";

export const url = inject("postgresUrl");

/** `url` with an application name, so a test finds the store's backends in pg_stat_activity. */
export function urlNamed(application: string, base = url, settings: Record<string, string> = {}): string {
  const named = new URL(base);
  named.searchParams.set("application_name", application);
  const options = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`);
  if (options.length > 0) named.searchParams.set("options", options.join(" "));
  return named.toString();
}

/** The history tests' commit table, apart from the committer's, moved with plain SQL. */
export const COMMITS = "history_test_commits";

/** A pool that survives the server dropping its idle connections (restarts, pg_terminate_backend). */
export function openPool(connectionString = url, config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString, ...config });
  pool.on("error", () => {});
  return pool;
}

export async function createCommitTable(pool: pg.Pool, table = COMMITS): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (ingestor text PRIMARY KEY, latest bytea, fence bigint)`);
}

/** Moves the committed pointer of `ingestor` as a committer would, without one. */
export async function commitPointer(pool: pg.Pool, ingestor: string, latest: Pointer, table = COMMITS): Promise<void> {
  await pool.query(
    `INSERT INTO ${table} (ingestor, latest) VALUES ($1, $2) ON CONFLICT (ingestor) DO UPDATE SET latest = EXCLUDED.latest`,
    [ingestor, latest],
  );
}

export function kitEntry(ingestor: string, block: number, index: number, accounts = ["a"]): KitEntry {
  return {
    id: `${ingestor}-${block}-${index}`,
    block,
    index,
    accounts: accounts.map((name) => `${ingestor}-${name}`),
    payload: `payload of ${block}/${index}`,
    revision: 0,
  };
}

export const ids = (entries: readonly { id: string }[]) => entries.map((entry) => entry.id);
export const idOf = (entry: KitEntry) => new TextEncoder().encode(entry.id);

export async function outcome<T>(attempt: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return attempt.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** Rows of `ingestor` in both tables, and whether every entry has exactly the account rows its codec lists. */
export async function storedRows(pool: pg.Pool, ingestor: string) {
  const entries = await pool.query<{ id: string; entry: Buffer }>(
    "SELECT convert_from(tx_id, 'UTF8') AS id, entry FROM tidemark_history WHERE ingestor = $1 ORDER BY tx_id",
    [ingestor],
  );
  const accounts = await pool.query<{ id: string; account: string }>(
    "SELECT convert_from(tx_id, 'UTF8') AS id, account FROM tidemark_history_accounts WHERE ingestor = $1 ORDER BY account",
    [ingestor],
  );
  const listed = new Map<string, string[]>();
  for (const row of accounts.rows) listed.set(row.id, [...(listed.get(row.id) ?? []), row.account]);
  const whole = entries.rows.every((row) => {
    const entry = JSON.parse(row.entry.toString("utf8")) as KitEntry;
    return JSON.stringify([...entry.accounts].sort()) === JSON.stringify(listed.get(row.id) ?? []);
  });
  const orphans = [...listed.keys()].filter((id) => !entries.rows.some((row) => row.id === id));
  return { ids: entries.rows.map((row) => row.id), accounts: accounts.rows.length, whole, orphans };
}

/** Retries `attempt` while the server is unavailable (a restart in progress), up to `withinMs`. */
export async function retrying<T>(attempt: () => Promise<T>, withinMs = 30_000): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTidemarkError(error, BackendUnavailableError) || performance.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** Polls `find` every 20 ms until it returns a value, for at most `withinMs`. */
export async function eventually<T>(find: () => Promise<T | undefined>, what: string, withinMs = 10_000): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
