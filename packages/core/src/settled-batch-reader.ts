import { raceAbort } from "./abort.js";
import { comparePointers, pointersEqual } from "./pointer.js";
import type { Result, ResultQueue } from "./result.js";

interface PendingResult {
  settled: boolean;
  value?: Result;
  error?: { error: unknown };
}

/** What {@link SettledBatchReader.next} hands back. */
export interface Batch {
  /** Consecutive successful results, each chaining onto the previous one. */
  readonly results: readonly Result[];
  /** Set when the result after `results` failed (its error) */
  readonly failure?: { readonly error: unknown };
  /** The queue has ended and nothing is left. */
  readonly ended: boolean;
}

/**
 * Reads a result queue in order and groups results that have already
 * settled, so one compare-and-swap can cover them. It pulls the next result
 * only once the previous one settled, so it never holds more unsettled work
 * than the queue itself and at most `maxSpan` settled results.
 */
export class SettledBatchReader {
  readonly #iterator: AsyncIterator<Promise<Result>>;
  readonly #maxSpan: number;
  readonly #pending: PendingResult[] = [];
  #pulling = false;
  #ended = false;
  #iteratorFailure: { error: unknown } | null = null;
  #wake: (() => void) | null = null;

  constructor(queue: ResultQueue, maxSpan: number) {
    this.#iterator = queue[Symbol.asyncIterator]();
    this.#maxSpan = maxSpan;
    this.#pump();
  }

  /** Waits for the next result to settle, then returns it with every settled successor that chains on. */
  async next(signal: AbortSignal, limit: (result: Result) => boolean = () => false): Promise<Batch> {
    while (!this.#pending[0]?.settled) {
      if (this.#pending.length === 0 && this.#ended) {
        if (this.#iteratorFailure) return { results: [], failure: this.#iteratorFailure, ended: true };
        return { results: [], ended: true };
      }
      await raceAbort(new Promise<void>((resolve) => (this.#wake = resolve)), signal);
    }
    // Let results that settled meanwhile reach the pending list before grouping.
    if (this.#maxSpan > 1) await raceAbort(new Promise<void>((resolve) => setImmediate(resolve)), signal);
    const results: Result[] = [];
    while (results.length < this.#maxSpan) {
      const head = this.#pending[0];
      if (!head?.settled) break;
      if (head.error) {
        if (results.length === 0) {
          this.#pending.shift();
          this.#pump();
          return { results, failure: head.error, ended: false };
        }
        break;
      }
      const value = head.value as Result;
      const previous = results.at(-1);
      // A result that does not chain, or does not advance past its parent, is committed on its
      // own so the committer judges (and rejects) it instead of a span hiding it.
      const advances = value.parent === null || comparePointers(value.block, value.parent) > 0;
      if (previous && (!advances || !pointersEqual(previous.block, value.parent))) break;
      if (!advances) {
        results.push(value);
        this.#pending.shift();
        break;
      }
      results.push(value);
      this.#pending.shift();
      if (limit(value)) break;
    }
    this.#pump();
    return { results, ended: false };
  }

  /** Stops reading; the queue's producer is expected to stop through its own abort signal. */
  close(): void {
    this.#ended = true;
    this.#iterator.return?.().catch(() => {});
  }

  #pump(): void {
    if (this.#pulling || this.#ended || this.#pending.length >= this.#maxSpan) return;
    const last = this.#pending.at(-1);
    if (last !== undefined && !last.settled) return;
    this.#pulling = true;
    let step: Promise<IteratorResult<Promise<Result>>>;
    try {
      step = Promise.resolve(this.#iterator.next());
    } catch (error) {
      // A queue whose next() throws is treated like one whose next() rejects.
      step = Promise.reject(error);
    }
    step.then(
      (step) => {
        this.#pulling = false;
        if (step.done) {
          this.#ended = true;
        } else {
          this.#track(step.value);
        }
        this.#notify();
        this.#pump();
      },
      (error: unknown) => {
        this.#pulling = false;
        this.#ended = true;
        this.#iteratorFailure = { error };
        this.#notify();
      },
    );
  }

  #track(promise: Promise<Result>): void {
    const item: PendingResult = { settled: false };
    this.#pending.push(item);
    Promise.resolve(promise)
      .then(
        (value) => {
          item.settled = true;
          if (value.error !== undefined) item.error = { error: value.error };
          else item.value = value;
        },
        (error: unknown) => {
          item.settled = true;
          item.error = { error };
        },
      )
      .finally(() => {
        this.#notify();
        this.#pump();
      });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
