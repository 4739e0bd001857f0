/**
 * Tasks waiting their turn, first come first served; a wait ends early,
 * rejecting with the reason, when its signal aborts. What a turn is (a permit,
 * room in a budget) is up to the owner, which wakes waiters one at a time.
 */
export class WaitQueue {
  readonly #waiters: (() => void)[] = [];

  /** Resolves when woken by {@link wakeOne}; rejects with `signal.reason` when it aborts first. */
  wait(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#waiters.indexOf(wake);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(signal.reason);
      };
      const wake = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#waiters.push(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Wakes the longest waiting task; false when none waits. */
  wakeOne(): boolean {
    const next = this.#waiters.shift();
    next?.();
    return next !== undefined;
  }
}
