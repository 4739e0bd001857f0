/** One submission waiting for its batch: it settles once, by its batch or by its signal. */
export class PendingWrite<T> {
  settled = false;
  readonly #resolve: () => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: () => void;

  constructor(
    readonly value: T,
    signal: AbortSignal | undefined,
    resolve: () => void,
    reject: (error: unknown) => void,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    // Aborted before its batch is sent, it is never sent; aborted later, it stops waiting (the write may land).
    this.#onAbort = () => this.fail(signal?.reason);
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  done(): void {
    if (this.#settle()) this.#resolve();
  }

  fail(error: unknown): void {
    if (this.#settle()) this.#reject(error);
  }

  #settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    return true;
  }
}

export interface TurnBatcherOptions<T> {
  /**
   * Sends one batch and settles every write in it (`done` or `fail`); it must
   * not reject. Writes settled meanwhile (aborted) are left out by the batcher
   * before the call, but may still settle during it.
   */
  readonly send: (batch: PendingWrite<T>[]) => Promise<void> | void;
  /** Splits what one turn collected into batches sent side by side (default: one batch). */
  readonly split?: (writes: PendingWrite<T>[]) => Iterable<PendingWrite<T>[]>;
}

/**
 * Collects the writes submitted in one turn of the event loop (a block's
 * entries, several blocks written concurrently) and hands them to `send`
 * together, so a store pays one round trip or one transaction per turn
 * instead of one per entry.
 */
export class TurnBatcher<T> {
  readonly #options: TurnBatcherOptions<T>;
  readonly #pending: PendingWrite<T>[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #scheduled: NodeJS.Immediate | null = null;

  constructor(options: TurnBatcherOptions<T>) {
    this.#options = options;
  }

  /** Resolves once `value` was written with its batch; rejects with the signal's reason when aborted first. */
  submit(value: T, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push(new PendingWrite(value, signal, resolve, reject));
      this.#scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Sends what is pending now, without waiting for the end of the turn. */
  flush(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const writes = this.#pending.splice(0).filter((write) => !write.settled);
    if (writes.length === 0) return;
    for (const batch of this.#options.split?.(writes) ?? [writes]) {
      const sending = this.#send(batch);
      this.#inFlight.add(sending);
      void sending.finally(() => this.#inFlight.delete(sending));
    }
  }

  /** Sends what is pending and waits until every batch sent has settled. */
  async drain(): Promise<void> {
    this.flush();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #send(batch: PendingWrite<T>[]): Promise<void> {
    try {
      await this.#options.send(batch);
    } catch (error) {
      // A sender that broke its promise not to throw: its writes must not hang.
      for (const write of batch) write.fail(error);
    }
  }
}
