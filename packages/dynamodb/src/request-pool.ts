/** Bounds the requests a store has in flight at once; waiting for a slot ends when the caller's signal aborts. */
export class RequestPool {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(slots: number) {
    this.#free = slots;
  }

  /** Resolves with the function that gives the slot back (call it exactly once). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(wake);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(this.#releaser());
      };
      this.#waiters.push(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Runs `request` in a slot. */
  async run<T>(signal: AbortSignal | undefined, request: () => Promise<T>): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await request();
    } finally {
      release();
    }
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot goes straight to the next waiter, so a burst of new requests cannot overtake it.
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
