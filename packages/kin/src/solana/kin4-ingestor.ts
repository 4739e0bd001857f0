import { availableParallelism } from "node:os";
import { type Address, isAddress } from "@solana/addresses";
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
import { BlockSession } from "./block-session.js";
import type { KinSolanaIngestorOptions } from "./options.js";
import { SolanaRpcClient } from "./rpc-client.js";

const MIN_POLL_INTERVAL_MS = 1000;
// Mainnet getBlock bodies are a few MB (about a fifth of that gzipped): a handful of blocks in flight.
const DEFAULT_MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

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
  readonly #rpcUrl: URL;
  readonly #workers: number;
  readonly #maxBytesInFlight: number;
  /** Each running session's connections, byte budget and worker threads, by the session's signal. */
  readonly #sessions = new WeakMap<AbortSignal, BlockSession>();
  /** Sessions still releasing what they hold, for {@link close}. */
  readonly #closing = new Set<Promise<void>>();
  readonly #startSlot: bigint;
  readonly #lastSlot: bigint | null;
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
    this.#startSlot = options.startSlot ?? 0n;
    if (this.#startSlot < 0n)
      throw new InvalidArgumentError(`Kin4 ingestor: startSlot must be >= 0, got ${this.#startSlot}`);
    this.#lastSlot = options.lastSlot ?? null;
    if (this.#lastSlot !== null && this.#lastSlot < this.#startSlot) {
      throw new InvalidArgumentError(
        `Kin4 ingestor: lastSlot must be >= startSlot (${this.#startSlot}), got ${this.#lastSlot}`,
      );
    }
    this.#concurrency = positiveInteger("concurrency", options.concurrency ?? 8);
    this.#bound = positiveInteger("bound", options.bound ?? 64);
    this.#batchSize = positiveInteger("batchSize", options.batchSize ?? 1024);
    this.#workers = options.workers ?? availableParallelism();
    if (!Number.isSafeInteger(this.#workers) || this.#workers < 0) {
      throw new InvalidArgumentError(`Kin4 ingestor: workers must be 0 or a positive integer, got ${this.#workers}`);
    }
    this.#maxBytesInFlight = positiveInteger(
      "maxBytesInFlight",
      options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT,
    );
    this.#pollMs = options.pollMs ?? MIN_POLL_INTERVAL_MS;
    if (!(this.#pollMs >= MIN_POLL_INTERVAL_MS)) {
      throw new InvalidArgumentError(
        `Kin4 ingestor: pollMs must be at least ${MIN_POLL_INTERVAL_MS} (RPC nodes are polled no faster than once a second), got ${this.#pollMs}`,
      );
    }
    this.#extensions = options.extensions ?? true;
    this.#log = options.logger ?? silentLogger;
    // Checked as a URL by the client, just below.
    this.#rpcUrl = URL.canParse(options.rpcUrl) ? new URL(options.rpcUrl) : new URL("http://invalid");
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

  /**
   * Resolves once every ended session has terminated its worker threads and
   * closed its connections (a session ends when its signal aborts; `run`
   * aborts it as it returns).
   */
  async close(): Promise<void> {
    await Promise.all([...this.#closing]);
  }

  /** The chain's newest finalized slot, for lag reporting. */
  async head(signal: AbortSignal): Promise<Pointer> {
    return solanaPointer(await this.#client.getFinalizedSlot(signal));
  }

  async ingest(signal: AbortSignal, writer: Writer<Entry>, parent: Pointer | null): Promise<ResultQueue> {
    // A pointer of the wrong length or version throws here, before anything runs.
    const parentSlot = parent === null ? null : slotFromPointer(parent);
    const queue = new BoundedResultQueue({ signal, bound: this.#bound });
    const session = new BlockSession(signal, {
      url: this.#rpcUrl,
      workers: this.#workers,
      maxBytesInFlight: this.#maxBytesInFlight,
      concurrency: this.#concurrency,
      reading: { mint: this.#mint, extensions: this.#extensions },
    });
    this.#sessions.set(signal, session);
    this.#closing.add(session.closed);
    void session.closed.then(() => this.#closing.delete(session.closed));
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
    const last = this.#lastSlot;
    let previous = parent;
    let next = start;
    try {
      while (!signal.aborted) {
        // Past lastSlot there is nothing left to deliver; the queue stays open until `run` stops at `until`.
        if (last !== null && next > last) return;
        // The finalized slot is read before the listing: a listing taken after it holds every block up to
        // it, so an empty one proves the range has no block left. Read after, it could count a block
        // finalized between the two calls as skipped.
        const finalized = last === null ? null : await this.#client.getFinalizedSlot(signal);
        const listed = await this.#client.getBlocksWithLimit(signal, next, this.#batchSize);
        const slots = last === null ? listed : listed.filter((slot) => slot <= last);
        // A finalized block beyond lastSlot (or a finalized slot at it) means no block up to lastSlot is still to come.
        const passed =
          last !== null &&
          (slots.length < listed.length || (listed.length === 0 && finalized !== null && finalized >= last));
        if (slots.length === 0 && !passed) {
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
        if (slots.length > 0) next = (slots.at(-1) as bigint) + 1n;
        if (passed && last !== null) {
          // lastSlot itself was skipped: an empty result for it lets the range's pointer reach its end.
          if (previous === null || slotFromPointer(previous) < last) {
            await queue.push(Promise.resolve({ parent: previous, block: solanaPointer(last) }));
          }
          return;
        }
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
      const session = this.#sessions.get(signal) as BlockSession;
      const entries = await this.#client.getBlock(signal, slot, session, (body) => session.read(slot, body, signal));
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
