/**
 * What a held lock gives its holder.
 */
export interface Lease {
  /** Aborts the moment the holder must consider the lock lost. */
  readonly signal: AbortSignal;
  /** A fencing token that increases with every acquisition, where the backend can provide one. */
  readonly token: bigint | null;
}

/** The current holding, for operators. */
export interface LockState {
  readonly key: string;
  readonly owner: string;
  readonly token: bigint | null;
  /** The lease duration the holder advertises, in milliseconds. */
  readonly leaseMs: number | null;
  readonly released: boolean;
}

/**
 * A mutual-exclusion lock shared by a fleet. One instance serves one `run`.
 */
export interface DistributedLock {
  /**
   * Resolves once this instance holds the lock; resolves with the same lease
   * when it already does. Rejects with `signal.reason` when `signal` aborts
   * first, and never acquires afterwards.
   */
  lock(signal: AbortSignal): Promise<Lease>;
  /**
   * Releases the lock if this instance still holds it; never releases a
   * holding that has since passed to someone else. Idempotent, and safe when
   * nothing is held.
   */
  unlock(): Promise<void>;
  /**
   * Releases what this instance holds and closes the connections it opened
   * (never a client the caller passed in). Idempotent; `lock()` afterwards rejects.
   */
  close(): Promise<void>;
  /** The current holder, or null when nobody holds it. */
  describe?(): Promise<LockState | null>;
}
