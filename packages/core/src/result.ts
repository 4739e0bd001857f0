import type { Pointer } from "./pointer.js";

/**
 * The outcome of ingesting one block. `parent` is the pointer the block builds
 * on (the previous result's `block`, or the pointer ingestion started from).
 * A result with `error` (or a rejected result promise) makes `run` restart
 * ingestion from the last committed pointer.
 */
export interface Result {
  readonly parent: Pointer | null;
  readonly block: Pointer;
  readonly error?: unknown;
}

/**
 * Results in chain order. Each promise settles once the block's entries have
 * been written, so `run` can commit a block as soon as its promise resolves
 * while later blocks are still being processed.
 */
export type ResultQueue = AsyncIterable<Promise<Result>>;
