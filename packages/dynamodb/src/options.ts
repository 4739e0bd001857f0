import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { LeaseLockOptions } from "@tidemark/core";

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
