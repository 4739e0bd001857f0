import { sleep } from "../abort.js";
import { BoundedResultQueue } from "../bounded-result-queue.js";
import type { Ingestor } from "../ingestor.js";
import { type Pointer, pointerFromNumber, pointerToBigInt } from "../pointer.js";
import type { Result, ResultQueue } from "../result.js";
import type { HistoryCodec, Writer } from "../writer.js";

/** One synthetic transaction of a {@link SequenceIngestor}. */
export interface SequenceEntry {
  readonly block: bigint;
  readonly index: number;
}

export interface SequenceIngestorOptions {
  readonly name?: string;
  /** The chain's last block; the queue ends after it (default: never ends). */
  readonly lastBlock?: bigint;
  /** Transactions written per block (default 1). */
  readonly entriesPerBlock?: number;
  /** Simulated work per block, in ms (default 0). */
  readonly delayMs?: number;
  /** Blocks processed at once (default 8). */
  readonly concurrency?: number;
  /** Result buffer bound (default 64). */
  readonly bound?: number;
  /** After `lastBlock`, keep the queue open (a chain waiting for its next block) instead of ending it. */
  readonly holdOpenAtEnd?: boolean;
  /** Return an error to make that block's result fail. */
  readonly failure?: (block: bigint) => unknown;
}

/**
 * A deterministic in-memory chain: block n is the 8-byte big-endian pointer
 * of n, starting at 1. For tests, examples and benchmarks of `run`.
 */
export class SequenceIngestor implements Ingestor<SequenceEntry> {
  readonly name: string;
  readonly #options: SequenceIngestorOptions;
  /** Calls to `ingest` so far. */
  sessions = 0;

  constructor(options: SequenceIngestorOptions = {}) {
    this.name = options.name ?? "sequence";
    this.#options = options;
  }

  async head(): Promise<Pointer> {
    return pointerFromNumber(this.#options.lastBlock ?? BigInt(Number.MAX_SAFE_INTEGER));
  }

  async ingest(signal: AbortSignal, writer: Writer<SequenceEntry>, parent: Pointer | null): Promise<ResultQueue> {
    this.sessions++;
    const queue = new BoundedResultQueue({ signal, ...(this.#options.bound ? { bound: this.#options.bound } : {}) });
    void this.#produce(signal, writer, parent, queue);
    return queue;
  }

  async #produce(
    signal: AbortSignal,
    writer: Writer<SequenceEntry>,
    parent: Pointer | null,
    queue: BoundedResultQueue,
  ): Promise<void> {
    const { lastBlock, concurrency = 8 } = this.#options;
    let block = parent === null ? 1n : pointerToBigInt(parent) + 1n;
    let previous = parent;
    let inFlight = 0;
    let slotFreed: (() => void) | null = null;
    while (!signal.aborted && (lastBlock === undefined || block <= lastBlock)) {
      while (inFlight >= concurrency && !signal.aborted) await new Promise<void>((r) => (slotFreed = r));
      if (signal.aborted) break;
      inFlight++;
      const result = this.#process(signal, writer, previous, block).finally(() => {
        inFlight--;
        const wake = slotFreed;
        slotFreed = null;
        wake?.();
      });
      if (!(await queue.push(result))) return;
      previous = pointerFromNumber(block);
      block++;
    }
    if (!this.#options.holdOpenAtEnd) queue.end();
  }

  async #process(
    signal: AbortSignal,
    writer: Writer<SequenceEntry>,
    parent: Pointer | null,
    n: bigint,
  ): Promise<Result> {
    const block = pointerFromNumber(n);
    const { delayMs = 0, entriesPerBlock = 1, failure } = this.#options;
    if (delayMs > 0) await sleep(delayMs, signal);
    const error = failure?.(n);
    if (error !== undefined) return { parent, block, error };
    for (let index = 0; index < entriesPerBlock; index++) await writer.write({ block: n, index }, { signal });
    return { parent, block };
  }
}

/** How history stores index {@link SequenceEntry} values. */
export const sequenceCodec: HistoryCodec<SequenceEntry> = {
  transactionId: (entry) => Buffer.from(`${entry.block}:${entry.index}`),
  accounts: (entry) => [`account-${entry.index % 4}`],
  orderingKey: (entry) => {
    const key = new Uint8Array(12);
    key.set(pointerFromNumber(entry.block), 0);
    new DataView(key.buffer).setUint32(8, entry.index);
    return key;
  },
  block: (entry) => pointerFromNumber(entry.block),
  encode: (entry) => Buffer.from(JSON.stringify({ block: entry.block.toString(), index: entry.index })),
  decode: (bytes) => {
    const raw = JSON.parse(Buffer.from(bytes).toString("utf8")) as { block: string; index: number };
    return { block: BigInt(raw.block), index: raw.index };
  },
};
