import {
  type CommitOptions,
  type Committer,
  type Lease,
  MemoryCommitter,
  MemoryLock,
  MemoryLockServer,
  type Pointer,
  pointerFromNumber,
  pointerToBigInt,
  type ReadOptions,
  type RunEvent,
  sleep,
} from "../src/index.js";

/** Pauses between lock attempts and restarts short enough for a test to go through several holdings. */
export const fastRetries = { lockRetryMs: 20, restartInitialMs: 5, restartMaxMs: 40 };

/** A writer that accepts every entry. */
export const noWriter = { write: async () => {} };

/** Block `n` as a pointer. */
export const p = (n: number) => pointerFromNumber(n);

/** A memory lock with a lease short enough for a test to wait one out. */
export function memoryLock(server = new MemoryLockServer(), key = "ingestor_history_test") {
  return new MemoryLock({ server, key, leaseMs: 600, heartbeatMs: 200, pollMs: 20 });
}

export interface CommitWrite {
  parent: bigint | null;
  block: bigint;
  token: bigint | null;
}

/**
 * A MemoryCommitter that logs every successful write and can be slowed down, made to fail, or
 * made to lose the answer to a write it applied.
 */
export class RecordingCommitter implements Committer {
  readonly inner: MemoryCommitter;
  readonly writes: CommitWrite[] = [];
  delayMs = 0;
  /** Called before each commit; throw to make it fail. */
  beforeCommit: (parent: Pointer | null, block: Pointer) => void = () => {};
  /** Awaited once a commit is stored and logged; throw or hang to lose its answer. */
  afterCommit: (block: Pointer, options?: CommitOptions) => Promise<void> | void = () => {};

  constructor(inner = new MemoryCommitter()) {
    this.inner = inner;
  }

  async close(): Promise<void> {}

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options?: CommitOptions): Promise<void> {
    if (this.delayMs > 0) await sleep(this.delayMs);
    this.beforeCommit(parent, block);
    await this.inner.commit(ingestor, parent, block, options);
    this.writes.push({
      parent: parent === null ? null : pointerToBigInt(parent),
      block: pointerToBigInt(block),
      token: options?.lease?.token ?? null,
    });
    await this.afterCommit(block, options);
  }

  latest(ingestor: string, options?: ReadOptions): Promise<Pointer | null> {
    return this.inner.latest(ingestor, options);
  }

  reset(ingestor: string, expected: Pointer | null, block: Pointer, options?: ReadOptions): Promise<void> {
    return this.inner.reset(ingestor, expected, block, options);
  }

  fence(ingestor: string, lease: Lease, options?: ReadOptions): Promise<void> {
    return this.inner.fence(ingestor, lease, options);
  }
}

/** Collects run events and lets a test wait for one. */
export class EventLog {
  readonly events: RunEvent[] = [];
  readonly #waiters: { match: (e: RunEvent) => boolean; resolve: () => void }[] = [];

  readonly listener = (event: RunEvent): void => {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(event)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  of<T extends RunEvent["type"]>(type: T): Extract<RunEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);
  }

  waitFor(match: (e: RunEvent) => boolean, timeoutMs = 20_000): Promise<void> {
    if (this.events.some(match)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a run event")), timeoutMs);
      this.#waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

/** True once `committed` events reached `block`. */
export const committedUpTo = (block: bigint) => (e: RunEvent) =>
  e.type === "committed" && pointerToBigInt(e.block) >= block;

/** Active handles of the kinds a leak would leave behind. */
export function openHandles(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === "Timeout" || kind === "Immediate").length;
}
