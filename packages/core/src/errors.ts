/** Base class of every error tidemark throws on purpose. */
export class TidemarkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A commit broke the commit invariants: its parent is not the stored pointer,
 * or its block does not advance past its parent. `run` never retries it: it
 * releases the lock and starts over from what is stored.
 */
export class InvalidCommitError extends TidemarkError {}

/** A call was structurally wrong (not a Uint8Array, empty block, empty name). `run` treats it as fatal. */
export class InvalidArgumentError extends TidemarkError {}

/**
 * The setup cannot work until an operator acts: a missing table, bad
 * credentials, an unreachable endpoint once retries are exhausted. `run`
 * rejects with it instead of retrying forever.
 */
export class ConfigurationError extends TidemarkError {}

/**
 * The backend did not answer, or answered that it is busy (a timeout, a
 * dropped connection, throttling, a 5xx). A restart would not help and waiting
 * might: `run` retries it with backoff and never stops for it. Whether a write
 * sent before it was applied is unknown unless the message says otherwise.
 */
export class BackendUnavailableError extends TidemarkError {}

/** The lock was lost (or the lease given to a commit is no longer the current holding). */
export class LockLostError extends TidemarkError {}

/**
 * A second write of a stored transaction contradicts the stored entry (by the
 * codec's rules, e.g. agora's: different bytes for a Kin2/Kin3 entry, a
 * Solana entry going back to unconfirmed). Nothing was changed.
 */
export class DoubleInsertError extends TidemarkError {}

/** Stored data does not have the shape tidemark wrote (a pointer that is not bytes, a lock record missing fields). */
export class CorruptRecordError extends TidemarkError {}

/** Thrown when `isInvalidCommit` style checks need to cross package copies (two installed versions of core). */
export function isTidemarkError<T extends TidemarkError>(
  error: unknown,
  type: abstract new (...args: never[]) => T,
): error is T {
  if (error instanceof type) return true;
  return error instanceof Error && error.name === type.name;
}
