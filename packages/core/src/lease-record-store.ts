/**
 * A lock record as the lease engine sees it. Adapters store more (dynamolock's
 * attributes, timestamps for operators); the engine needs only these.
 */
export interface LeaseRecord {
  /** Names one holding: unique per acquisition. */
  readonly owner: string;
  /** Changes with every write of the record; a contender times how long it stays the same. */
  readonly version: string;
  /** The lease its holder advertises, in ms: contenders wait out this one, not their own. */
  readonly leaseMs: number;
  /** The fencing token of the holding, where the backend keeps one. */
  readonly token: bigint | null;
  readonly released: boolean;
}

/** What an acquisition writes. */
export interface LeaseClaim {
  readonly owner: string;
  readonly version: string;
  readonly leaseMs: number;
}

/**
 * The four conditional operations a backend must offer for the lease engine
 * ({@link LeaseLock}) to run a lock on it. Each adapter maps these onto its
 * database; the protocol (waiting, takeover, renewal, settling unknown
 * outcomes, the watchdog) lives in the engine, once.
 *
 * Every method rejects when its outcome is unknown (a timeout, a dropped
 * connection, a 5xx): the engine reads the record back to settle it. Errors
 * that a restart cannot fix (a missing table, bad credentials) should be
 * `ConfigurationError`; a stored record of the wrong shape `CorruptRecordError`.
 */
export interface LeaseRecordStore<R extends LeaseRecord = LeaseRecord> {
  /** Names the lock in errors, e.g. `dynamodb lock "k" in table "t"`. */
  readonly label: string;
  /** The record, or null when there is none. */
  read(signal: AbortSignal): Promise<R | null>;
  /**
   * Writes `claim` as the new holding if the stored record is still exactly
   * `previous`: absent when `previous` is null, else unchanged in version.
   * Resolves with the new holding's token (null where the backend has none),
   * or `false` when the condition failed because someone else wrote first.
   */
  claim(previous: R | null, claim: LeaseClaim, signal: AbortSignal): Promise<{ token: bigint | null } | false>;
  /**
   * Replaces `version` by `next` if the record still names `owner`, unreleased,
   * at `version`. Resolves false when that condition failed.
   */
  renew(owner: string, version: string, next: string, signal: AbortSignal): Promise<boolean>;
  /** Marks the holding of `owner` released (or removes the record) if the record still names it; else does nothing. */
  release(owner: string, signal: AbortSignal): Promise<void>;
  /** Closes what the store opened; the engine calls it once, from `close()`. */
  close?(): Promise<void>;
}
