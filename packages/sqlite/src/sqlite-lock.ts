import type { StatementSync } from "node:sqlite";
import {
  CorruptRecordError,
  InvalidArgumentError,
  type LeaseClaim,
  LeaseLock,
  type LeaseLockOptions,
  type LeaseRecord,
  type LeaseRecordStore,
  resolveLeaseTimings,
} from "@tidemark/core";
import {
  assertTableName,
  type Connection,
  connect,
  createsTables,
  type DatabaseSource,
  immediateTransaction,
  wrapBusy,
  wrapMissingTable,
} from "./database.js";
import { createLockTables, defaultTables } from "./schema.js";

export interface SqliteLockOptions extends DatabaseSource, LeaseLockOptions {
  /** Lock table (default `tidemark_locks`). */
  readonly table?: string;
  /** Fencing-token table (default `tidemark_lock_tokens`). */
  readonly tokenTable?: string;
  /** Create the tables if missing (default true; never with `readOnly`). */
  readonly createTables?: boolean;
}

interface LockRow {
  owner: unknown;
  version: unknown;
  lease_ms: number;
  token: number | bigint;
  released: number;
}

/** The lock row of one key, mapped onto the lease engine's four conditional operations. */
class SqliteLeaseStore implements LeaseRecordStore {
  readonly label: string;
  readonly #key: string;
  readonly #table: string;
  readonly #connection: Connection;
  readonly #select: StatementSync;
  readonly #upsert: StatementSync;
  readonly #nextToken: StatementSync;
  readonly #renew: StatementSync;
  readonly #release: StatementSync;

  constructor(key: string, table: string, tokens: string, connection: Connection, createTables: boolean) {
    this.label = `sqlite lock "${key}" in table "${table}" (${connection.label})`;
    this.#key = key;
    this.#table = table;
    this.#connection = connection;
    const { db } = connection;
    if (createTables) createLockTables(db, table, tokens);
    this.#select = db.prepare(`SELECT owner, version, lease_ms, token, released FROM ${table} WHERE key = :key`);
    this.#upsert = db.prepare(`INSERT INTO ${table} (key, owner, version, lease_ms, token, released)
      VALUES (:key, :owner, :version, :lease, :token, 0)
      ON CONFLICT (key) DO UPDATE SET owner = :owner, version = :version, lease_ms = :lease, token = :token, released = 0`);
    this.#nextToken = db.prepare(`INSERT INTO ${tokens} (key, token) VALUES (:key, 1)
      ON CONFLICT (key) DO UPDATE SET token = token + 1 RETURNING token`);
    this.#renew = db.prepare(`UPDATE ${table} SET version = :next
      WHERE key = :key AND owner = :owner AND version = :version AND released = 0`);
    this.#release = db.prepare(`UPDATE ${table} SET released = 1 WHERE key = :key AND owner = :owner AND released = 0`);
  }

  // Waiters only read: no write lock is taken until there is something to take over.
  async read(): Promise<LeaseRecord | null> {
    return this.#run(() => this.#readRow());
  }

  async claim(previous: LeaseRecord | null, claim: LeaseClaim): Promise<{ token: bigint } | false> {
    return this.#run(() =>
      immediateTransaction(this.#connection.db, () => {
        if (this.#readRow()?.version !== previous?.version) return false;
        const token = BigInt((this.#nextToken.get({ key: this.#key }) as { token: number | bigint }).token);
        this.#upsert.run({ key: this.#key, owner: claim.owner, version: claim.version, lease: claim.leaseMs, token });
        return { token };
      }),
    );
  }

  async renew(owner: string, version: string, next: string): Promise<boolean> {
    return this.#run(() => this.#renew.run({ key: this.#key, owner, version, next }).changes === 1);
  }

  async release(owner: string): Promise<void> {
    if (this.#connection.closed) return;
    this.#run(() => this.#release.run({ key: this.#key, owner }));
  }

  async close(): Promise<void> {
    this.#connection.close();
  }

  #run<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw wrapBusy(error, this.label);
    }
  }

  #readRow(): LeaseRecord | null {
    const row = this.#select.get({ key: this.#key }) as LockRow | undefined;
    if (row === undefined) return null;
    if (typeof row.owner !== "string" || typeof row.version !== "string") {
      throw new CorruptRecordError(`sqlite lock table "${this.#table}": row "${this.#key}" has no owner or version`);
    }
    return {
      owner: row.owner,
      version: row.version,
      leaseMs: row.lease_ms,
      token: BigInt(row.token),
      released: row.released === 1,
    };
  }
}

/**
 * A lease lock in a SQLite row, for processes on one machine sharing a file,
 * on the same engine as every other lease lock of tidemark.
 */
export class SqliteLock extends LeaseLock {
  constructor(options: SqliteLockOptions) {
    if (typeof options?.key !== "string" || options.key.length === 0) {
      throw new InvalidArgumentError("sqlite lock: key must be a non-empty string");
    }
    const subject = `sqlite lock "${options.key}"`;
    const table = assertTableName(options.table ?? defaultTables.locks, "lock table");
    const tokens = assertTableName(options.tokenTable ?? defaultTables.lockTokens, "lock token table");
    const timings = resolveLeaseTimings(subject, options);
    // node:sqlite waits for a busy database synchronously, blocking every timer of the process,
    // the lease's watchdog included: wait no longer than half the safety margin.
    const busyTimeoutMs = Math.min(options.busyTimeoutMs ?? 2000, Math.max(1, timings.safetyMarginMs / 2));
    const connection = connect(options, `lock "${options.key}"`, busyTimeoutMs);
    let store: SqliteLeaseStore;
    try {
      store = new SqliteLeaseStore(options.key, table, tokens, connection, createsTables(options));
    } catch (error) {
      connection.close();
      throw wrapMissingTable(error, table, connection.label);
    }
    super(store, options);
  }
}
