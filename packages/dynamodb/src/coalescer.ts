import type { RequestPool } from "./request-pool.js";

/** What one part of a batch request came to. */
export type Outcome<R> = { readonly value: R } | { readonly error: unknown };

/** Sends one batch request for `inputs`; throws when the request as a whole failed. */
export type BatchSend<I, R> = (inputs: readonly I[]) => Promise<readonly Outcome<R>[]>;

interface Task<I, R> {
  readonly id: string;
  readonly input: I;
  queued: boolean;
  settle(outcome: Outcome<R>): void;
}

/**
 * Gathers single-item requests of concurrent writes into batch requests (a
 * `BatchWriteItem` of up to 25, a `BatchGetItem` of up to 100), each sent in a
 * slot of the store's request pool. While every slot is busy, requests pile up
 * and leave together, so a busy store sends fewer, fuller batches. Two
 * requests for the same item never share a batch (DynamoDB refuses that).
 */
export class Coalescer<I, R> {
  readonly #queue: Task<I, R>[] = [];
  readonly #pool: RequestPool;
  readonly #size: number;
  readonly #send: BatchSend<I, R>;
  /** A flush is scheduled or waiting for a slot: new requests join it rather than start another. */
  #pending = false;

  constructor(pool: RequestPool, size: number, send: BatchSend<I, R>) {
    this.#pool = pool;
    this.#size = size;
    this.#send = send;
  }

  /**
   * Queues a request for item `id`. When `signal` aborts, a request still
   * queued is dropped (never sent) and one already sent is left to finish;
   * either way the promise rejects with the abort reason at once.
   */
  submit(id: string, input: I, signal?: AbortSignal): Promise<R> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      const task: Task<I, R> = {
        id,
        input,
        queued: true,
        settle: (outcome) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          if ("error" in outcome) reject(outcome.error);
          else resolve(outcome.value);
        },
      };
      const onAbort = () => {
        if (task.queued) {
          task.queued = false;
          this.#queue.splice(this.#queue.indexOf(task), 1);
        }
        task.settle({ error: signal?.reason });
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(task);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#pending || this.#queue.length === 0) return;
    this.#pending = true;
    // One turn of the event loop first: the writes of a block arrive together and leave together.
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    const release = await this.#pool.acquire();
    this.#pending = false;
    const batch = this.#take();
    this.#schedule();
    if (batch.length === 0) {
      release();
      return;
    }
    try {
      const outcomes = await this.#send(batch.map((task) => task.input));
      for (const [i, task] of batch.entries()) task.settle(outcomes[i] ?? { error: new Error("no outcome") });
    } catch (error) {
      for (const task of batch) task.settle({ error });
    } finally {
      release();
    }
  }

  #take(): Task<I, R>[] {
    const batch: Task<I, R>[] = [];
    const ids = new Set<string>();
    for (let i = 0; i < this.#queue.length && batch.length < this.#size; ) {
      const task = this.#queue[i] as Task<I, R>;
      if (ids.has(task.id)) {
        i++;
        continue;
      }
      ids.add(task.id);
      batch.push(task);
      task.queued = false;
      this.#queue.splice(i, 1);
    }
    return batch;
  }
}
