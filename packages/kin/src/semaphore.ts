import { WaitQueue } from "./wait-queue.js";

/** Limits how many tasks run at once; waiting for a permit ends when `signal` aborts. */
export class Semaphore {
  #available: number;
  readonly #waiting = new WaitQueue();

  constructor(permits: number) {
    this.#available = permits;
  }

  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#available > 0) {
      this.#available--;
      return;
    }
    // A released permit passes straight to the woken task.
    await this.#waiting.wait(signal);
  }

  release(): void {
    if (!this.#waiting.wakeOne()) this.#available++;
  }
}
