import { DatabaseSync } from "node:sqlite";
import { ConfigurationError } from "@tidemark/core";

/** Where a component finds its database: a file path (it opens its own connection) or a shared handle. */
export interface DatabaseSource {
  /** A SQLite file, created if missing. Each component opened from a path owns its connection. */
  readonly path?: string;
  /** An open handle to share between components; the caller closes it. */
  readonly database?: DatabaseSync;
  /** How long a statement waits for another process's write lock, in ms (default 2000). */
  readonly busyTimeoutMs?: number;
}

/** An open connection and whether the component must close it. */
export interface Connection {
  readonly db: DatabaseSync;
  readonly owned: boolean;
  readonly label: string;
}

export function connect(source: DatabaseSource, component: string): Connection {
  if (source.database) return { db: source.database, owned: false, label: "shared database" };
  if (!source.path) throw new ConfigurationError(`sqlite ${component}: give either \`path\` or \`database\``);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(source.path);
  } catch (error) {
    throw new ConfigurationError(`sqlite ${component}: cannot open "${source.path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  // WAL lets readers and one writer from several processes work at once; NORMAL syncs at checkpoints.
  db.exec(`PRAGMA busy_timeout = ${Math.trunc(source.busyTimeoutMs ?? 2000)}`);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  return { db, owned: true, label: source.path };
}

/** Runs `body` in a write transaction taken up front, so a read-then-write cannot interleave with another process. */
export function immediateTransaction<T>(db: DatabaseSync, body: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = body();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** SQLite identifiers cannot be bound as parameters; allow only plain names. */
export function assertTableName(name: string, what: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new ConfigurationError(`sqlite: ${what} "${name}" must be a plain identifier (letters, digits, underscore)`);
  }
  return name;
}

/** Translates "no such table" into an error that says how to fix it. */
export function wrapMissingTable(error: unknown, table: string, label: string): unknown {
  if (error instanceof Error && /no such table/i.test(error.message)) {
    return new ConfigurationError(
      `sqlite (${label}): table "${table}" does not exist; create it with createTables: true or run \`tidemark\` once against this file`,
      { cause: error },
    );
  }
  return error;
}
