import { TcpFaultProxy } from "@tidemark/test-servers";
import pg from "pg";
import { afterAll, expect, inject } from "vitest";

/** The suite's server (it carries a password). */
export const url = inject("postgresUrl");

const pools = new Set<pg.Pool>();
const proxies = new Set<TcpFaultProxy>();

/** A pool for raw SQL, closed after the file; it survives the server dropping its idle connections. */
export function openPool(connectionString = url, config: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString, ...config });
  pool.on("error", () => {});
  pools.add(pool);
  return pool;
}

export async function closePool(pool: pg.Pool): Promise<void> {
  pools.delete(pool);
  await pool.end();
}

/** `base` with URL parts replaced (user, password, database, port...). */
export function urlWith(
  changes: { user?: string; password?: string; database?: string; port?: number },
  base = url,
): string {
  const changed = new URL(base);
  if (changes.user !== undefined) changed.username = changes.user;
  if (changes.password !== undefined) changed.password = changes.password;
  if (changes.database !== undefined) changed.pathname = `/${changes.database}`;
  if (changes.port !== undefined) changed.port = String(changes.port);
  return changed.toString();
}

/** A fault proxy in front of the server of `base`, and `base` rewritten to go through it; closed after the file. */
export async function proxied(base = url): Promise<{ proxy: TcpFaultProxy; url: string }> {
  const target = new URL(base);
  const proxy = await TcpFaultProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
  proxies.add(proxy);
  return { proxy, url: urlWith({ port: proxy.port }, base) };
}

export async function closeProxy(proxy: TcpFaultProxy): Promise<void> {
  proxies.delete(proxy);
  await proxy.close();
}

/** What the commit table stores for `ingestor`, read with plain SQL. */
export async function rawLatest(
  pool: pg.Pool,
  ingestor: string,
  table = "tidemark_commits",
): Promise<Uint8Array | null> {
  const result = await pool.query<{ latest: Buffer | null }>(`SELECT latest FROM ${table} WHERE ingestor = $1`, [
    ingestor,
  ]);
  const latest = result.rows[0]?.latest ?? null;
  return latest === null ? null : new Uint8Array(latest);
}

// Registered first, so it runs after every other afterAll hook of the file.
afterAll(async () => {
  for (const proxy of [...proxies]) await closeProxy(proxy);
  for (const pool of [...pools]) await closePool(pool);
  // Nothing the file opened may outlive it: no socket, server or child process.
  const openHandles = () =>
    process.getActiveResourcesInfo().filter((kind) => /^(TCP|Process|Pipe(Server|Connect))/.test(kind));
  for (let waited = 0; openHandles().length > 0 && waited < 3000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(openHandles(), "handles left open after the file closed its pools").toEqual([]);
});
