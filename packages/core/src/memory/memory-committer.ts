import { parentMismatch, validateCommit, validateReset } from "../commit-rules.js";
import type { CommitOptions, Committer, ReadOptions } from "../committer.js";
import { InvalidArgumentError, InvalidCommitError, LockLostError } from "../errors.js";
import type { Lease } from "../lock.js";
import { copyPointer, type Pointer, pointersEqual, pointerToHex } from "../pointer.js";

interface CommitRecord {
  latest: Pointer | null;
  /** The highest lease token raised by `fence`; a fenced commit must carry exactly this token. */
  fence: bigint | null;
}

/**
 * What in-memory committers share, standing in for a database: committers
 * built on the same state see each other's commits like connections to one server.
 */
export class MemoryCommitState {
  readonly records = new Map<string, CommitRecord>();
  /** Backend writes performed (commit and reset calls that changed something). */
  writes = 0;
}

export interface MemoryCommitterOptions {
  /** Share it between committers to model several connections to one store. */
  readonly state?: MemoryCommitState;
}

/** A Committer in process memory, with the same invariants and fencing as the real backends. */
export class MemoryCommitter implements Committer {
  readonly state: MemoryCommitState;

  constructor(options: MemoryCommitterOptions = {}) {
    this.state = options.state ?? new MemoryCommitState();
  }

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options: CommitOptions = {}): Promise<void> {
    validateCommit(ingestor, parent, block);
    options.signal?.throwIfAborted();
    const record = this.state.records.get(ingestor);
    if (options.lease) checkLease(ingestor, record, options.lease);
    const stored = record?.latest ?? null;
    if (stored !== null && !pointersEqual(stored, parent)) throw parentMismatch(ingestor, parent, stored);
    this.#store(ingestor, record, copyPointer(block));
  }

  async latest(ingestor: string, options: ReadOptions = {}): Promise<Pointer | null> {
    if (typeof ingestor !== "string" || ingestor.length === 0) {
      throw new InvalidArgumentError("ingestor name must be a non-empty string");
    }
    options.signal?.throwIfAborted();
    const latest = this.state.records.get(ingestor)?.latest ?? null;
    return latest === null ? null : copyPointer(latest);
  }

  async reset(ingestor: string, expected: Pointer | null, block: Pointer, options: ReadOptions = {}): Promise<void> {
    validateReset(ingestor, expected, block);
    options.signal?.throwIfAborted();
    const record = this.state.records.get(ingestor);
    const stored = record?.latest ?? null;
    if (!pointersEqual(stored, expected)) {
      throw new InvalidCommitError(
        `reset of "${ingestor}" rejected: expected ${pointerToHex(expected)}, stored ${pointerToHex(stored)}`,
      );
    }
    this.#store(ingestor, record, copyPointer(block));
  }

  async fence(ingestor: string, lease: Lease, options: ReadOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (lease.token === null) return;
    const record = this.state.records.get(ingestor);
    if (record === undefined) {
      this.state.records.set(ingestor, { latest: null, fence: lease.token });
    } else if (record.fence === null || record.fence < lease.token) {
      record.fence = lease.token;
    }
  }

  /** Nothing to close: the state outlives its committers, like a database its connections. */
  async close(): Promise<void> {}

  #store(ingestor: string, record: CommitRecord | undefined, block: Pointer): void {
    if (record === undefined) this.state.records.set(ingestor, { latest: block, fence: null });
    else record.latest = block;
    this.state.writes++;
  }
}

function checkLease(ingestor: string, record: CommitRecord | undefined, lease: Lease): void {
  if (lease.signal.aborted) {
    throw new LockLostError(`commit for "${ingestor}" rejected: the lease given with it was already lost`);
  }
  const fence = record?.fence ?? null;
  if (fence !== null && lease.token !== fence) {
    throw new LockLostError(
      `commit for "${ingestor}" rejected: lease token ${lease.token} is not the current fence ${fence}`,
    );
  }
}
