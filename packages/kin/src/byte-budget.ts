import { WaitQueue } from "./wait-queue.js";

/**
 * Bytes in flight across tasks (response bodies fetched and not yet read):
 * a new task starts only while the total is under the budget. Its bytes are
 * counted as they arrive, not reserved, since a body's size is known only at
 * its end; so the total may pass the budget by the bodies already under way,
 * but a task never waits on another waiting task.
 */
export class ByteBudget {
  readonly #max: number;
  #used = 0;
  readonly #waiting = new WaitQueue();

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  /** Bytes counted now. */
  get used(): number {
    return this.#used;
  }

  /** Waits until the bytes in flight are under the budget, or rejects when `signal` aborts. */
  async admit(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#used < this.#max) return;
    await this.#waiting.wait(signal);
  }

  add(bytes: number): void {
    this.#used += bytes;
  }

  /** Gives back what a task counted (0 too: every admitted task releases once, waking the next). */
  release(bytes: number): void {
    this.#used -= bytes;
    // One at a time: those woken add their bytes only as they arrive.
    if (this.#used < this.#max) this.#waiting.wakeOne();
  }
}
