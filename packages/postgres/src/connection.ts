import { InvalidArgumentError } from "@tidemark/core";
import pg from "pg";

/** Where a component finds PostgreSQL: your `Pool`, or a connection string to open one of its own. */
export interface PostgresConnectionOptions {
  /** Your `pg.Pool`; tidemark never ends it. */
  readonly pool?: pg.Pool;
  /** A connection string (`postgres://user:pass@host/db`); the component opens a pool and ends it in `close()`. */
  readonly connectionString?: string;
}

/** A pool and whether the component must end it. */
export interface Connection {
  readonly pool: pg.Pool;
  readonly owned: boolean;
  /** The server without credentials, for errors. */
  readonly label: string;
}

export function connect(options: PostgresConnectionOptions, component: string): Connection {
  if (options?.pool !== undefined) return { pool: options.pool, owned: false, label: describePool(options.pool) };
  if (typeof options?.connectionString !== "string" || options.connectionString.length === 0) {
    throw new InvalidArgumentError(`postgres ${component}: give either \`pool\` or \`connectionString\``);
  }
  const label = describeServer(options.connectionString);
  if (label === NOT_A_URL) {
    // Not echoed: a connection string carries the password.
    throw new InvalidArgumentError(`postgres ${component}: connectionString is not a postgres:// URL`);
  }
  // TCP keepalive: a connection to a server that vanished is noticed, not kept for hours.
  const pool = new pg.Pool({ connectionString: options.connectionString, keepAlive: true });
  // An idle connection the server cut (a restart, pg_terminate_backend) is reported on the pool;
  // unheard, that event would crash the process. The pool drops the connection by itself.
  pool.on("error", () => {});
  return { pool, owned: true, label };
}

const NOT_A_URL = "a connection string that is not a URL";

/** Where a given pool connects, from its settings (`host:port/database`), never its credentials. */
function describePool(pool: pg.Pool): string {
  const settings = (
    pool as { options?: { connectionString?: unknown; host?: unknown; port?: unknown; database?: unknown } }
  ).options;
  if (typeof settings?.connectionString === "string") return describeServer(settings.connectionString);
  if (typeof settings?.host === "string") {
    return `${settings.host}:${String(settings.port ?? 5432)}/${typeof settings.database === "string" ? settings.database : ""}`;
  }
  return "the given pool";
}

/** `host:port/database` of a connection string, never its user or password. */
export function describeServer(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname}${url.port ? `:${url.port}` : ""}${url.pathname}`;
  } catch {
    return NOT_A_URL;
  }
}
