import { InvalidArgumentError } from "./errors.js";
import type { Result, ResultQueue } from "./result.js";

export const DEFAULT_RESULT_QUEUE_BOUND = 64;

export interface BoundedResultQueueOptions {
  /** How many results may wait for the consumer before `push` blocks (default 64). */
  readonly bound?: number;
  /** Ends the queue: iteration finishes and pending pushes reject with the reason. */
  readonly signal?: AbortSignal;
}

/**
 * The buffer between an ingestor and `run`. Producers `push` result promises in
 * chain order and are held back once `bound` of them wait unconsumed, so a
 * slow committer throttles ingestion instead of growing memory.
 */
export class BoundedResultQueue implements ResultQueue {
  readonly bound: number;
  readonly #buffer: Promise<Result>[] = [];
  readonly #signal: AbortSignal | undefined;
  #ended = false;
  #failure: { error: unknown } | null = null;
  #consumerWake: (() => void) | null = null;
  #producerWakes: (() => void)[] = [];
  #iterating = false;

  constructor(options: BoundedResultQueueOptions = {}) {
    const bound = options.bound ?? DEFAULT_RESULT_QUEUE_BOUND;
    if (!Number.isInteger(bound) || bound < 1) {
      throw new InvalidArgumentError(`result queue bound must be a positive integer, got ${bound}`);
    }
    this.bound = bound;
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", () => this.#close(), { once: true });
  }

  /** Results waiting for the consumer. */
  get size(): number {
    return this.#buffer.length;
  }

  get closed(): boolean {
    return this.#ended || this.#signal?.aborted === true;
  }

  /**
   * Adds a result, waiting while the buffer is full. Resolves `false` (and
   * drops the result) once the queue is closed: aborted, ended, or abandoned
   * by its consumer; the producer should then stop.
   */
  async push(result: Promise<Result>): Promise<boolean> {
    // A result nobody consumes (the queue was abandoned) must not become an unhandled rejection.
    result.catch(() => {});
    while (this.#buffer.length >= this.bound && !this.closed) {
      await new Promise<void>((resolve) => this.#producerWakes.push(resolve));
    }
    if (this.closed) return false;
    this.#buffer.push(result);
    this.#wakeConsumer();
    return true;
  }

  /** No more results will come; the consumer sees the end after draining the buffer. */
  end(): void {
    this.#ended = true;
    this.#wakeConsumer();
    this.#wakeProducers();
  }

  /** Ends the queue with an error that the consumer receives after draining the buffer. */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.end();
  }

  // Written by hand rather than as an async generator: a generator's `yield`
  // would await each result, and the consumer must receive the promises unsettled.
  [Symbol.asyncIterator](): AsyncIterator<Promise<Result>> {
    if (this.#iterating) throw new InvalidArgumentError("a result queue can be iterated only once");
    this.#iterating = true;
    const done = (): IteratorResult<Promise<Result>> => {
      this.#abandon();
      return { done: true, value: undefined };
    };
    return {
      next: async () => {
        while (true) {
          if (this.#signal?.aborted) return done();
          const next = this.#buffer.shift();
          if (next !== undefined) {
            this.#wakeProducers();
            return { done: false, value: next };
          }
          if (this.#ended) {
            const failure = this.#failure;
            this.#failure = null;
            if (failure) return { done: false, value: Promise.reject(failure.error) };
            return done();
          }
          await new Promise<void>((resolve) => {
            this.#consumerWake = resolve;
          });
        }
      },
      return: async () => done(),
    };
  }

  /** The consumer stopped: drop what is buffered and release any producer waiting for room. */
  #abandon(): void {
    this.#ended = true;
    this.#buffer.length = 0;
    this.#wakeConsumer();
    this.#wakeProducers();
  }

  #close(): void {
    this.#buffer.length = 0;
    this.#wakeConsumer();
    this.#wakeProducers();
  }

  #wakeConsumer(): void {
    const wake = this.#consumerWake;
    this.#consumerWake = null;
    wake?.();
  }

  #wakeProducers(): void {
    const wakes = this.#producerWakes;
    this.#producerWakes = [];
    for (const wake of wakes) wake();
  }
}
