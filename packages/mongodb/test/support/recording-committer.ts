import {
  type CommitOptions,
  type Committer,
  InvalidCommitError,
  isTidemarkError,
  type Lease,
  LockLostError,
  type Pointer,
  type ReadOptions,
} from "@tidemark/core";

/** One commit call and how it ended, as its caller saw it. */
export interface CommitAttempt {
  readonly parent: Pointer | null;
  readonly block: Pointer;
  /**
   * `acknowledged`: resolved. `refused`: rejected as invalid or fenced, so not applied.
   * `unknown`: failed otherwise (backend unavailable, abort), so it may or may not have been applied.
   */
  readonly outcome: "acknowledged" | "refused" | "unknown";
}

/** Wraps a committer and logs every commit attempt with its outcome. */
export class RecordingCommitter implements Committer {
  readonly #inner: Committer;
  readonly attempts: CommitAttempt[];

  constructor(inner: Committer, attempts: CommitAttempt[] = []) {
    this.#inner = inner;
    this.attempts = attempts;
    if (inner.fence)
      this.fence = (ingestor, lease, options) => inner.fence?.(ingestor, lease, options) as Promise<void>;
  }

  fence?: (ingestor: string, lease: Lease, options?: ReadOptions) => Promise<void>;

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options?: CommitOptions): Promise<void> {
    try {
      await this.#inner.commit(ingestor, parent, block, options);
      this.attempts.push({ parent, block, outcome: "acknowledged" });
    } catch (error) {
      // Aborted (e.g. by its lease) while in flight, it may still have been applied, whatever the error says.
      const refused =
        !options?.signal?.aborted &&
        (isTidemarkError(error, InvalidCommitError) || isTidemarkError(error, LockLostError));
      this.attempts.push({ parent, block, outcome: refused ? "refused" : "unknown" });
      throw error;
    }
  }

  latest(ingestor: string, options?: ReadOptions): Promise<Pointer | null> {
    return this.#inner.latest(ingestor, options);
  }

  reset(ingestor: string, expected: Pointer | null, block: Pointer, options?: ReadOptions): Promise<void> {
    return this.#inner.reset(ingestor, expected, block, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
