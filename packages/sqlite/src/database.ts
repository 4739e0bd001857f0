import { statSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { BackendUnavailableError, ConfigurationError } from "@tidemark/core";

/** Where a component finds its database: a file path (it opens its own connection) or a shared handle. */
export interface DatabaseSource {
  /** A SQLite file, created if missing. Each component opened from a path owns its connection. */
  readonly path?: string;
  /** An open handle to share between components; the caller closes it. */
  readonly database?: DatabaseSync;
  /** How long a statement waits for another process's write lock, in ms (default 2000). */
  readonly busyTimeoutMs?: number;
  /**
   * Only read an existing file: a missing one is a `ConfigurationError` naming
   * it, no table is created (a missing one is a `ConfigurationError` too),
   * writes fail and the journal mode is left as it is (default false).
   */
  readonly readOnly?: boolean;
}

/**
 * An open connection and whether the component must close it. It tracks
 * "closed" itself: `DatabaseSync.isOpen` only exists from Node 22.15, and the
 * packages promise 22.13.
 */
export class Connection {
  #closed = false;

  constructor(
    readonly db: DatabaseSync,
    readonly owned: boolean,
    readonly label: string,
  ) {}

  /** True once this component closed its own connection; a shared handle is the caller's to close. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection if this component opened it. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.owned) this.db.close();
  }
}

export function connect(source: DatabaseSource, component: string, busyTimeoutMs?: number): Connection {
  if (source.database) return new Connection(source.database, false, "shared database");
  if (!source.path) throw new ConfigurationError(`sqlite ${component}: give either \`path\` or \`database\``);
  if (source.readOnly && !isFile(source.path)) {
    throw new ConfigurationError(
      `sqlite ${component}: no such database file "${source.path}" (opened read-only, so none is created)`,
    );
  }
  let db: DatabaseSync;
  try {
    // Read-only still opens read-write: only such a connection removes the -wal and -shm files on
    // close. `query_only` below refuses every write.
    db = new DatabaseSync(source.path);
  } catch (error) {
    throw new ConfigurationError(`sqlite ${component}: cannot open "${source.path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  // WAL lets readers and one writer from several processes work at once; NORMAL syncs at checkpoints.
  db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs ?? source.busyTimeoutMs ?? 2000)}`);
  if (source.readOnly) {
    db.exec("PRAGMA query_only = ON");
    return new Connection(db, true, source.path);
  }
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  return new Connection(db, true, source.path);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whether a component creates its tables: by default unless the source is read-only, never when it is. */
export function createsTables(source: DatabaseSource & { readonly createTables?: boolean }): boolean {
  return source.readOnly !== true && source.createTables !== false;
}

/** Runs `body` in a write transaction taken up front, so a read-then-write cannot interleave with another process. */
export function immediateTransaction<T>(db: DatabaseSync, body: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = body();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    // SQLite may already have rolled back (some errors end the transaction themselves); a
    // failed COMMIT leaves it open. Asking is not portable to Node 22.13, so just try.
    try {
      db.exec("ROLLBACK");
    } catch {}
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

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/** A database held by another connection past the busy timeout is an outage to wait out, not a failure. */
export function wrapBusy(error: unknown, subject: string): unknown {
  const code = (error as { errcode?: number } | null)?.errcode;
  if (code !== undefined && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED)) {
    return new BackendUnavailableError(`${subject}: the database is locked by another connection`, { cause: error });
  }
  return error;
}
