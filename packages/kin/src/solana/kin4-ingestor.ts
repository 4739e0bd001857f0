import { type Address, isAddress } from "@solana/kit";
import {
  BoundedResultQueue,
  type Ingestor,
  InvalidArgumentError,
  type Logger,
  type Pointer,
  type Result,
  type ResultQueue,
  silentLogger,
  sleep,
  type Writer,
} from "@tidemark/core";
import { type Entry, KinVersion } from "../gen/model_pb.js";
import { slotFromPointer, solanaPointer } from "../model/pointer.js";
import { KIN_MINT_ADDRESS } from "../model/spl-token.js";
import { getHistoryIngestorName } from "../model/version.js";
import { Semaphore } from "../semaphore.js";
import { parseBlock, type TransactionFilter } from "./block-shape.js";
import { kinCandidates, kinEntriesOfBlock } from "./kin-entries.js";
import type { KinSolanaIngestorOptions } from "./options.js";
import { SolanaRpcClient } from "./rpc-client.js";

const MIN_POLL_INTERVAL_MS = 1000;

/**
 * Follows Solana's finalized blocks and writes every Kin transaction (an SPL
 * Token instruction on the Kin mint, top-level or inner) as an agora `Entry`.
 * Blocks are fetched `concurrency` at a time and delivered in slot order; a
 * block's result settles once all its entries are written.
 */
export class KinSolanaIngestor implements Ingestor<Entry> {
  readonly name: string;
  readonly #client: SolanaRpcClient;
  readonly #mint: Address;
  /** Which of a block's transactions are read at all: those that may be Kin transactions. */
  readonly #candidates: TransactionFilter;
  readonly #startSlot: bigint;
  readonly #concurrency: number;
  readonly #bound: number;
  readonly #batchSize: number;
  readonly #pollMs: number;
  readonly #extensions: boolean;
  readonly #log: Logger;

  constructor(options: KinSolanaIngestorOptions) {
    this.name = options.name ?? getHistoryIngestorName(KinVersion.KIN4);
    const mint = options.mint ?? KIN_MINT_ADDRESS;
    if (!isAddress(mint))
      throw new InvalidArgumentError(`Kin4 ingestor: mint "${mint}" is not a base58 Solana address`);
    this.#mint = mint;
    this.#candidates = kinCandidates(mint);
    this.#startSlot = options.startSlot ?? 0n;
    if (this.#startSlot < 0n)
      throw new InvalidArgumentError(`Kin4 ingestor: startSlot must be >= 0, got ${this.#startSlot}`);
    this.#concurrency = positiveInteger("concurrency", options.concurrency ?? 8);
    this.#bound = positiveInteger("bound", options.bound ?? 64);
    this.#batchSize = positiveInteger("batchSize", options.batchSize ?? 1024);
    this.#pollMs = options.pollMs ?? MIN_POLL_INTERVAL_MS;
    if (!(this.#pollMs >= MIN_POLL_INTERVAL_MS)) {
      throw new InvalidArgumentError(
        `Kin4 ingestor: pollMs must be at least ${MIN_POLL_INTERVAL_MS} (RPC nodes are polled no faster than once a second), got ${this.#pollMs}`,
      );
    }
    this.#extensions = options.extensions ?? true;
    this.#log = options.logger ?? silentLogger;
    this.#client = new SolanaRpcClient({
      url: options.rpcUrl,
      ...(options.headers ? { headers: options.headers } : {}),
      requestTimeoutMs: positiveInteger("requestTimeoutMs", options.requestTimeoutMs ?? 30_000),
      retry: options.retry ?? {},
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.onRequestSucceeded ? { onRequestSucceeded: options.onRequestSucceeded } : {}),
      logger: this.#log,
    });
  }

  /** The chain's newest finalized slot, for lag reporting. */
  async head(signal: AbortSignal): Promise<Pointer> {
    return solanaPointer(await this.#client.getFinalizedSlot(signal));
  }

  async ingest(signal: AbortSignal, writer: Writer<Entry>, parent: Pointer | null): Promise<ResultQueue> {
    // A pointer of the wrong length or version throws here, before anything runs.
    const parentSlot = parent === null ? null : slotFromPointer(parent);
    const queue = new BoundedResultQueue({ signal, bound: this.#bound });
    void this.#produce(signal, writer, parent, parentSlot === null ? this.#startSlot : parentSlot + 1n, queue);
    return queue;
  }

  async #produce(
    signal: AbortSignal,
    writer: Writer<Entry>,
    parent: Pointer | null,
    start: bigint,
    queue: BoundedResultQueue,
  ): Promise<void> {
    const permits = new Semaphore(this.#concurrency);
    let previous = parent;
    let next = start;
    try {
      while (!signal.aborted) {
        const slots = await this.#client.getBlocksWithLimit(signal, next, this.#batchSize);
        if (slots.length === 0) {
          await sleep(this.#pollMs, signal);
          continue;
        }
        for (const slot of slots) {
          await permits.acquire(signal);
          const block = solanaPointer(slot);
          const result = this.#process(signal, writer, previous, block, slot).finally(() => permits.release());
          if (!(await queue.push(result))) return;
          previous = block;
        }
        next = (slots.at(-1) as bigint) + 1n;
      }
    } catch (error) {
      if (signal.aborted) return;
      this.#log.warn({ ingestor: this.name, err: error }, "Kin4 ingestion stopped: cannot list blocks");
      queue.fail(error);
    }
  }

  /** Fetches one block and writes its Kin entries; a failure becomes the result's error. */
  async #process(
    signal: AbortSignal,
    writer: Writer<Entry>,
    parent: Pointer | null,
    block: Pointer,
    slot: bigint,
  ): Promise<Result> {
    try {
      const entries = await this.#client.getBlock(signal, slot, (raw) =>
        kinEntriesOfBlock(slot, parseBlock(slot, raw, this.#candidates), {
          mint: this.#mint,
          extensions: this.#extensions,
        }),
      );
      for (const entry of entries) {
        signal.throwIfAborted();
        await writer.write(entry, { signal });
      }
      return { parent, block };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      this.#log.warn({ ingestor: this.name, slot: slot.toString(), err: error }, "Kin4 block failed");
      return { parent, block, error };
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`Kin4 ingestor: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
