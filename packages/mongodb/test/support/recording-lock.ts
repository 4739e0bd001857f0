import type { Interval } from "@tidemark/conformance";
import type { DistributedLock, Lease, LockState } from "@tidemark/core";

/**
 * Wraps a lock and records each holding as an interval on the monotonic
 * clock: from the moment `lock()` resolved until the lease aborted or
 * `unlock()` was called, whichever came first.
 */
export class RecordingLock implements DistributedLock {
  readonly intervals: Interval[];
  readonly #inner: DistributedLock;
  readonly #holder: string;
  #open: { lease: Lease; start: number; closed: boolean } | null = null;

  /** `intervals` may be shared, e.g. by the successive incarnations of one node. */
  constructor(inner: DistributedLock, holder: string, intervals: Interval[] = []) {
    this.#inner = inner;
    this.#holder = holder;
    this.intervals = intervals;
  }

  async lock(signal: AbortSignal): Promise<Lease> {
    const lease = await this.#inner.lock(signal);
    if (this.#open?.lease !== lease) {
      const open = { lease, start: performance.now(), closed: false };
      this.#open = open;
      lease.signal.addEventListener("abort", () => this.#close(open), { once: true });
    }
    return lease;
  }

  async unlock(): Promise<void> {
    if (this.#open) this.#close(this.#open);
    await this.#inner.unlock();
  }

  async close(): Promise<void> {
    if (this.#open) this.#close(this.#open);
    await this.#inner.close();
  }

  describe(): Promise<LockState | null> {
    return this.#inner.describe?.() ?? Promise.resolve(null);
  }

  #close(open: { start: number; closed: boolean }): void {
    if (open.closed) return;
    open.closed = true;
    this.intervals.push({ holder: this.#holder, start: open.start, end: performance.now() });
  }
}
