import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** The commit table agora v0.2.7 uses. */
export const DEFAULT_COMMITS_TABLE = "tx-history-commits";
/** The lock table agora v0.2.7 hands to cirello.io/dynamolock. */
export const DEFAULT_LOCKS_TABLE = "tx-history-locks";
/** agora's heartbeat; the lease is three of them, as agora configured dynamolock. */
export const DEFAULT_HEARTBEAT_MS = 10_000;

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

export interface DynamoDbLockOptions {
  /**
   * The DynamoDB client to send with. The lock never closes it: whoever
   * created it calls `client.destroy()` (after `unlock()`).
   */
  readonly client: DynamoDBClient;
  /** The lock's name: the `key` (S) of its record. Agora uses one per ingestor. */
  readonly key: string;
  /** Lock table in cirello.io/dynamolock's layout: hash key `key` (S). Default `"tx-history-locks"`. */
  readonly table?: string;
  /** How often the holder renews its record, in ms. Default 10 000, agora's value. */
  readonly heartbeatMs?: number;
  /**
   * The lease written into the record (as a Go duration string) that other
   * nodes, Go or TypeScript, wait out before taking over a silent holder, in
   * ms. Default `3 * heartbeatMs`, as agora configured it; at least
   * `2 * heartbeatMs` (dynamolock's own rule) and a whole number.
   */
  readonly leaseMs?: number;
  /**
   * The holder aborts `lease.signal` when this long before its lease could run
   * out it still has no confirmed renewal, in ms. Default `leaseMs / 6`. Must
   * leave room for at least one heartbeat: `heartbeatMs + safetyMarginMs < leaseMs`.
   */
  readonly safetyMarginMs?: number;
  /**
   * How often a waiting `lock()` reads the record, in ms. Default
   * `min(1000, heartbeatMs / 2)`. A waiter first sees a holder's last version up
   * to one poll after it was written and takes over one lease after that, so a
   * crashed holder is replaced within `leaseMs + pollMs` (plus two requests) of
   * its last renewal: under a lease plus a heartbeat with the default.
   */
  readonly pollMs?: number;
  /**
   * Longest wait for one heartbeat request before it counts as failed (and the
   * record is re-read to settle it), in ms. Default `heartbeatMs / 2`.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Prefix of the owner name written into the record; each acquisition appends
   * a random suffix, so every holding has its own name (the commit fence
   * checks it). Default: the host name.
   */
  readonly owner?: string;
  /** Delete the record on `unlock()` instead of marking it `isReleased = "1"` (dynamolock's default). */
  readonly deleteOnRelease?: boolean;
  /** Bytes stored in the record's `data` attribute on acquisition; without it, the previous record's `data` is kept, as dynamolock does. */
  readonly data?: Uint8Array;
}
