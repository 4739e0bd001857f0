import {
  DEFAULT_LEASE_MS,
  InvalidArgumentError,
  LeaseLock,
  type LeaseLockOptions,
  type LeaseRecord,
  type OwnedLease,
} from "@tidemark/core";
import { connect, type PostgresConnectionOptions } from "./connection.js";
import { quoteTable } from "./identifiers.js";
import { PostgresLeaseStore } from "./lease-store.js";
import { DEFAULT_LOCKS_TABLE, DEFAULT_TOKEN_SEQUENCE } from "./schema.js";

/** The shared lease options (`key`, `owner`, `leaseMs`, …; default lease 10 000 ms) plus the connection and names. */
export interface PostgresLockOptions extends LeaseLockOptions, PostgresConnectionOptions {
  /** The lock table, one row per key (default `tidemark_locks`); create it with `createSchema`. */
  readonly table?: string;
  /**
   * The sequence every acquisition takes its fencing token from (default
   * `tidemark_lock_tokens`). Never reset it while a fleet runs: tokens must grow.
   */
  readonly tokenSequence?: string;
}

/**
 * A lease of {@link PostgresLock}: its token, and where its lock row is, so a
 * {@link PostgresCommitter} can check in the commit statement itself that this
 * holding is still the current one.
 */
export interface PostgresLease extends OwnedLease {
  readonly token: bigint;
  /** The lock table holding this lease's row (as configured, unquoted). */
  readonly lockTable: string;
}

/**
 * A DistributedLock on PostgreSQL: tidemark's lease engine over one row per
 * key in the lock table, changed only by single conditional statements. Every
 * acquisition takes a token from a sequence in the same statement.
 */
export class PostgresLock extends LeaseLock<LeaseRecord, PostgresLease> {
  readonly table: string;

  constructor(options: PostgresLockOptions) {
    if (typeof options?.key !== "string" || options.key.length === 0) {
      throw new InvalidArgumentError("postgres lock: key must be a non-empty string");
    }
    const table = options.table ?? DEFAULT_LOCKS_TABLE;
    const tokenSequence = options.tokenSequence ?? DEFAULT_TOKEN_SEQUENCE;
    // Validated before a pool is opened, so a bad name leaves nothing to close.
    quoteTable(table, "lock table");
    quoteTable(tokenSequence, "tokenSequence");
    const connection = connect(options, `lock "${options.key}"`);
    super(new PostgresLeaseStore(options.key, { table, tokenSequence }, connection), options, DEFAULT_LEASE_MS);
    this.table = table;
  }

  protected override extendLease(lease: OwnedLease): PostgresLease {
    return { ...lease, token: lease.token as bigint, lockTable: this.table };
  }
}
