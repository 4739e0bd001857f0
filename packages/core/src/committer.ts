import type { Lease } from "./lock.js";
import type { Pointer } from "./pointer.js";

export interface CommitOptions {
  readonly signal?: AbortSignal;
  /**
   * When given, the commit is applied only if, atomically with the
   * compare-and-swap, this lease is still the current holding.
   */
  readonly lease?: Lease;
}

export interface ReadOptions {
  readonly signal?: AbortSignal;
}

/**
 * Stores how far each ingestor got, by compare-and-swap.
 *
 * Invariants: the first commit for a name is accepted whatever its parent;
 * afterwards `parent` must equal the stored pointer; with a non-null parent,
 * `block <= parent` is rejected before anything is sent. Violations reject
 * with `InvalidCommitError`; structural mistakes with `InvalidArgumentError`.
 */
export interface Committer {
  commit(ingestor: string, parent: Pointer | null, block: Pointer, options?: CommitOptions): Promise<void>;
  /** The stored pointer (a copy), or null when nothing was committed. */
  latest(ingestor: string, options?: ReadOptions): Promise<Pointer | null>;
  /**
   * The operator's repair tool: replaces the pointer, in either direction,
   * only if the stored one still equals `expected` (null = absent).
   */
  reset(ingestor: string, expected: Pointer | null, block: Pointer, options?: ReadOptions): Promise<void>;
  /**
   * For committers that fence by raising a fence on the commit record: `run`
   * calls it after every acquisition, before reading `latest`.
   */
  fence?(ingestor: string, lease: Lease, options?: ReadOptions): Promise<void>;
  /** Closes the connections this committer opened (never a client the caller passed in). Idempotent. */
  close(): Promise<void>;
}
