import { randomUUID } from "node:crypto";
import type { StatementSync } from "node:sqlite";
import {
  ConfigurationError,
  CorruptRecordError,
  type DistributedLock,
  InvalidArgumentError,
  type Lease,
  LeaseHolding,
  type LockState,
  sleep,
} from "@tidemark/core";
import {
  assertTableName,
  type Connection,
  connect,
  type DatabaseSource,
  immediateTransaction,
  wrapMissingTable,
} from "./database.js";
import { createLockTables, defaultTables } from "./schema.js";

export interface SqliteLockOptions extends DatabaseSource {
  /** The lock's name; processes using the same key exclude each other (e.g. `ingestor_history_kin4`). */
  readonly key: string;
  /** How long a holding lasts without renewal, in ms (default 6000). */
  readonly leaseMs?: number;
  /** Renewal period, in ms (default leaseMs / 3). */
  readonly heartbeatMs?: number;
  /** How often a waiter reads the lock row, in ms (default 250). */
  readonly pollMs?: number;
  /** The holder considers the lock lost this long before its lease could run out, in ms (default leaseMs / 6). */
  readonly safetyMarginMs?: number;
  /** Lock table (default `tidemark_locks`). */
  readonly table?: string;
  /** Fencing-token table (default `tidemark_lock_tokens`). */
  readonly tokenTable?: string;
  /** Create the tables if missing (default true). */
  readonly createTables?: boolean;
  /** Names this holder in `describe()` (default a random id per acquisition). */
  readonly ownerLabel?: string;
}

interface LockRow {
  owner: string;
  version: string;
  lease_ms: number;
  token: number | bigint;
  released: number;
}

interface Holding {
  readonly holding: LeaseHolding;
  readonly owner: string;
  version: string;
}

/**
 * A lease lock in a SQLite row, for processes on one machine sharing a file.
 * A waiter takes over a held row only after observing its version unchanged
 * for the lease duration stored in the row, on its own monotonic clock, so a
 * holder that keeps renewing is never displaced and no wall clock is compared.
 */
export class SqliteLock implements DistributedLock {
  readonly key: string;
  readonly #connection: Connection;
  readonly #table: string;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  readonly #pollMs: number;
  readonly #marginMs: number;
  readonly #ownerLabel: string | undefined;
  readonly #select: StatementSync;
  readonly #insert: StatementSync;
  readonly #takeOver: StatementSync;
  readonly #nextToken: StatementSync;
  readonly #renew: StatementSync;
  readonly #release: StatementSync;
  #held: Holding | null = null;

  constructor(options: SqliteLockOptions) {
    if (!options.key) throw new InvalidArgumentError("sqlite lock: key must be a non-empty string");
    this.key = options.key;
    this.#table = assertTableName(options.table ?? defaultTables.locks, "lock table");
    const tokens = assertTableName(options.tokenTable ?? defaultTables.lockTokens, "lock token table");
    this.#leaseMs = options.leaseMs ?? 6000;
    this.#heartbeatMs = options.heartbeatMs ?? this.#leaseMs / 3;
    this.#pollMs = options.pollMs ?? 250;
    this.#marginMs = options.safetyMarginMs ?? this.#leaseMs / 6;
    this.#ownerLabel = options.ownerLabel;
    if (this.#heartbeatMs >= this.#leaseMs - this.#marginMs) {
      throw new ConfigurationError(
        `sqlite lock "${this.key}": heartbeat ${this.#heartbeatMs} ms must be shorter than lease ${this.#leaseMs} ms minus margin ${this.#marginMs} ms`,
      );
    }
    this.#connection = connect(options, `lock "${this.key}"`);
    const { db } = this.#connection;
    if (options.createTables !== false) createLockTables(db, this.#table, tokens);
    try {
      this.#select = db.prepare(
        `SELECT owner, version, lease_ms, token, released FROM ${this.#table} WHERE key = :key`,
      );
      this.#insert = db.prepare(`INSERT INTO ${this.#table} (key, owner, version, lease_ms, token, released)
        VALUES (:key, :owner, :version, :lease, :token, 0)
        ON CONFLICT (key) DO UPDATE SET owner = :owner, version = :version, lease_ms = :lease, token = :token, released = 0
        WHERE released = 1`);
      this.#takeOver = db.prepare(`UPDATE ${this.#table}
        SET owner = :owner, version = :version, lease_ms = :lease, token = :token, released = 0
        WHERE key = :key AND version = :seen`);
      this.#nextToken = db.prepare(`INSERT INTO ${tokens} (key, token) VALUES (:key, 1)
        ON CONFLICT (key) DO UPDATE SET token = token + 1 RETURNING token`);
      this.#renew = db.prepare(`UPDATE ${this.#table} SET version = :next
        WHERE key = :key AND owner = :owner AND version = :version AND released = 0`);
      this.#release = db.prepare(`UPDATE ${this.#table} SET released = 1
        WHERE key = :key AND owner = :owner AND released = 0`);
    } catch (error) {
      this.close();
      throw wrapMissingTable(error, this.#table, this.#connection.label);
    }
  }

  /** performance.now() of the last confirmed renewal of the current holding. */
  get lastRenewedAt(): number | null {
    return this.#held?.holding.lastRenewedAt ?? null;
  }

  async lock(signal: AbortSignal): Promise<Lease> {
    if (this.#held && !this.#held.holding.lease.signal.aborted) return this.#held.holding.lease;
    this.#stop();
    let seen: { version: string; at: number } | null = null;
    while (true) {
      signal.throwIfAborted();
      const attempt = this.#tryAcquire(seen);
      if ("lease" in attempt) return attempt.lease;
      seen = attempt.seen;
      await sleep(this.#pollMs, signal);
    }
  }

  async unlock(): Promise<void> {
    const held = this.#held;
    if (held === null) return;
    this.#stop();
    if (this.#connection.db.isOpen) this.#release.run({ key: this.key, owner: held.owner });
  }

  async describe(): Promise<LockState | null> {
    const row = this.#readRow();
    if (row === undefined || row.released === 1) return null;
    return { key: this.key, owner: row.owner, token: BigInt(row.token), leaseMs: row.lease_ms, released: false };
  }

  /** Test hook: freeze this holder as a paused process would be: no renewals, no release, no self-expiry. */
  simulateCrash(): void {
    this.#held?.holding.freeze();
  }

  /** Stops renewing and closes the connection if this lock opened it; does not release. Call `unlock` first. */
  close(): void {
    this.simulateCrash();
    if (this.#connection?.owned && this.#connection.db.isOpen) this.#connection.db.close();
  }

  #tryAcquire(
    seen: { version: string; at: number } | null,
  ): { lease: Lease } | { seen: { version: string; at: number } } {
    const owner = this.#ownerLabel ? `${this.#ownerLabel}/${randomUUID()}` : randomUUID();
    const version = randomUUID();
    type Seen = { version: string; at: number };
    const acquired = immediateTransaction<{ token: bigint } | { seen: Seen }>(this.#connection.db, () => {
      const row = this.#readRow();
      const values = { key: this.key, owner, version, lease: this.#leaseMs };
      if (row === undefined || row.released === 1) {
        const token = this.#takeToken();
        this.#insert.run({ ...values, token });
        return { token };
      }
      const now = performance.now();
      if (seen === null || seen.version !== row.version) return { seen: { version: row.version, at: now } };
      // The holder has not renewed for a whole lease as this process measures it: it is gone.
      if (now - seen.at >= row.lease_ms) {
        const token = this.#takeToken();
        this.#takeOver.run({ ...values, token, seen: seen.version });
        return { token };
      }
      return { seen };
    });
    if ("seen" in acquired) return { seen: acquired.seen };
    return { lease: this.#hold(owner, version, acquired.token) };
  }

  #takeToken(): bigint {
    const row = this.#nextToken.get({ key: this.key }) as { token: number | bigint };
    return BigInt(row.token);
  }

  #hold(owner: string, version: string, token: bigint): Lease {
    const held: Holding = {
      owner,
      version,
      holding: new LeaseHolding({
        label: `sqlite lock "${this.key}"`,
        token,
        leaseMs: this.#leaseMs,
        heartbeatMs: this.#heartbeatMs,
        safetyMarginMs: this.#marginMs,
        renew: (): boolean => {
          // Throws on a busy database: an unknown outcome, which the holding's watchdog judges.
          const next = randomUUID();
          const { changes } = this.#renew.run({ key: this.key, owner: held.owner, version: held.version, next });
          if (changes !== 1) return false;
          held.version = next;
          return true;
        },
      }),
    };
    this.#held = held;
    return held.holding.lease;
  }

  #readRow(): LockRow | undefined {
    const row = this.#select.get({ key: this.key }) as LockRow | undefined;
    if (row !== undefined && (typeof row.owner !== "string" || typeof row.version !== "string")) {
      throw new CorruptRecordError(`sqlite lock table "${this.#table}": row "${this.key}" has no owner or version`);
    }
    return row;
  }

  #stop(): void {
    this.#held?.holding.release();
    this.#held = null;
  }
}
