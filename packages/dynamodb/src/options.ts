import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { HistoryCodec, LeaseLockOptions, Pointer, Visibility } from "@tidemark/core";

/** The commit table agora v0.2.7 uses. */
export const DEFAULT_COMMITS_TABLE = "tx-history-commits";
/** The lock table agora v0.2.7 hands to cirello.io/dynamolock. */
export const DEFAULT_LOCKS_TABLE = "tx-history-locks";
/** agora's lease: three of its 10 s heartbeats, as agora configured dynamolock (written as `"30s"`). */
export const DEFAULT_LOCK_LEASE_MS = 30_000;

export interface DynamoDbCommitterOptions {
  /**
   * The DynamoDB client to send with. The committer never closes it: whoever
   * created it calls `client.destroy()`.
   */
  readonly client: DynamoDBClient;
  /** Commit table: hash key `ingestor` (S), pointer in `latest` (B). Default `"tx-history-commits"`. */
  readonly table?: string;
  /**
   * How often a fenced commit (a transaction) is retried when DynamoDB cancels
   * it for a `TransactionConflict` with another request on the same items
   * (typically this node's own heartbeat). Default 5.
   */
  readonly conflictRetries?: number;
}

/**
 * The shared lease options (`key`, `owner`, `leaseMs`, `heartbeatMs`,
 * `safetyMarginMs`, `pollMs`, `requestTimeoutMs`) plus the table. The lease
 * defaults to agora's 30 000 ms, so the heartbeat defaults to its 10 000 ms.
 * `leaseMs` is written into the record as a Go duration and must be a whole
 * number of at least `2 * heartbeatMs` (dynamolock's own rule).
 */
export interface DynamoDbLockOptions extends LeaseLockOptions {
  /**
   * The DynamoDB client to send with. The lock never closes it: whoever
   * created it calls `client.destroy()` (after `lock.close()`).
   */
  readonly client: DynamoDBClient;
  /** Lock table in cirello.io/dynamolock's layout: hash key `key` (S). Default `"tx-history-locks"`. */
  readonly table?: string;
  /** Delete the record on `unlock()` instead of marking it `isReleased = "1"` (dynamolock's default). */
  readonly deleteOnRelease?: boolean;
  /** Bytes stored in the record's `data` attribute on acquisition; without it, the previous record's `data` is kept, as dynamolock does. */
  readonly data?: Uint8Array;
}

/** agora v0.2.7's table of entries by transaction id. */
export const DEFAULT_TRANSACTIONS_TABLE = "tx-by-hash";
/** agora v0.2.7's table of entries by account. */
export const DEFAULT_ACCOUNTS_TABLE = "tx-by-account";
/** agora v0.2.7's global history, partitioned by block. */
export const DEFAULT_HISTORY_TABLE = "tx-history";

/** How requests whose items DynamoDB left unprocessed (or throttled as a whole) are retried. */
export interface BatchRetryOptions {
  /** Attempts per batch request, the first included (default 8). */
  readonly maxAttempts?: number;
  /** Backoff after the first unprocessed answer, in ms (default 50; doubles per attempt, ±20 % jitter). */
  readonly initialBackoffMs?: number;
  /** Cap of the backoff, in ms (default 2000). */
  readonly maxBackoffMs?: number;
}

export interface DynamoDbHistoryStoreOptions<E> {
  /**
   * The DynamoDB client to send with. The store never closes it: whoever
   * created it calls `client.destroy()` (after `store.close()`).
   */
  readonly client: DynamoDBClient;
  /** Tells the store how to identify, index and serialise entries (e.g. `kinHistoryCodec` from `@tidemark/kin`). */
  readonly codec: HistoryCodec<E>;
  /**
   * The committed pointer of the ingestor whose entries this store reads, e.g.
   * `(signal) => committer.latest("history_KIN4", { signal })`. Readers only
   * see entries whose block is at or below it. Required unless `visibility`
   * is given instead.
   */
  readonly committed?: (signal?: AbortSignal) => Promise<Pointer | null>;
  /**
   * Instead of `committed`, when several ingestors commit parts of this
   * history (a backfill's partitions next to the live ingestor): which blocks
   * readers may see, called before every read (`visibilityOf` in
   * `@tidemark/core` builds it). Entries are checked one by one, as with
   * `committed`, so the requests are the same.
   */
  readonly visibility?: (signal?: AbortSignal) => Promise<Visibility>;
  /** Entries by transaction id: hash key `tx_hash` (B), the entry in `entry` (B). Default `"tx-by-hash"`. */
  readonly table?: string;
  /** Entries by account: hash key `account` (S), range key `ordering_key` (B). Default `"tx-by-account"`. */
  readonly accountTable?: string;
  /** The global history: hash key `block_start` (N), range key `ordering_key` (B). Default `"tx-history"`. */
  readonly historyTable?: string;
  /**
   * The block number `entry` is listed under in the global history table, or
   * null to leave it out (agora lists only confirmed Solana entries, by slot).
   * Without it nothing is written to the history table, and `getBlockRange`
   * cannot be used. For any entry it lists, `blockOfPointer(codec.block(entry))`
   * must be that number.
   */
  readonly globalHistory?: (entry: E) => bigint | null;
  /** The block number of a pointer of this chain; `getBlockRange` needs it to find the partitions to read. */
  readonly blockOfPointer?: (pointer: Pointer) => bigint;
  /**
   * The smallest (`"first"`) or largest (`"last"`) ordering key an entry of
   * `block` can have, as agora's `OrderingKeyFromBlock`. Optional: with it a
   * range read asks only for the keys of its blocks; without it, it reads
   * whole partitions (10 000 blocks each) and filters.
   */
  readonly orderingKeyOfBlock?: (block: bigint, edge: "first" | "last") => Uint8Array;
  /** Requests in flight at once across all writes of this store (default 16). */
  readonly concurrency?: number;
  /**
   * Strongly consistent reads (default true), so an entry written before its
   * block was committed is always seen once it is. False halves the read cost
   * and may briefly miss entries written within the last second.
   */
  readonly consistentRead?: boolean;
  /**
   * Check the tables' key schemas with `DescribeTable` before the first
   * request (default true). Set false when the credentials may not call
   * `DescribeTable`; a missing table is then reported by the first request.
   */
  readonly verifyTables?: boolean;
  /** Retries of batch requests DynamoDB did not fully process. */
  readonly retry?: BatchRetryOptions;
}
