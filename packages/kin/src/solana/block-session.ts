import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { ResourceLimits } from "node:worker_threads";
import { fromBinary } from "@bufbuild/protobuf";
import { ByteBudget } from "../byte-budget.js";
import { type Entry, EntrySchema } from "../gen/model_pb.js";
import { type BlockBody, type BlockReading, entriesOfBody } from "./block-body.js";
import type { BlockTaskResult } from "./block-worker.js";
import { BodyBuffers } from "./body-buffers.js";
import type { BlockTransport } from "./rpc-client.js";
import { fromWire } from "./wire-error.js";
import { WorkerCrashedError, WorkerPool } from "./worker-pool.js";

export interface BlockSessionOptions {
  readonly url: URL;
  /** Worker threads reading blocks; 0 reads them on the calling thread. */
  readonly workers: number;
  readonly maxBytesInFlight: number;
  /** Requests at once, the most connections kept open. */
  readonly concurrency: number;
  readonly reading: BlockReading;
  /** The threads' script (default: block-worker.js, built next to this module). */
  readonly workerScript?: URL;
}

// A worker's heap holds one block's parse at a time: a few MB, tens for a block of nothing but Kin
// transactions. Left to V8's defaults (sized for the whole machine), its old generation grows to
// 35 MB between collections; a 64 MB ceiling makes V8 collect sooner, about 20 MB less a thread.
// A block that exhausts it is read again on the calling thread (see `read`).
const WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 64 };
// A body smaller than this is read here: a thread's start and a message cost more than a small block's
// read (a mainnet block is megabytes, hundreds of KB gzipped; a quiet chain's is a few KB).
const IN_PROCESS_BELOW_BYTES = 128 * 1024;

/**
 * What one ingestion session reads blocks with: kept-alive connections, the
 * budget of bytes in flight and, unless `workers` is 0, a pool of worker
 * threads. It ends when the session's signal aborts: running blocks settle,
 * then the threads are terminated and the connections closed.
 */
export class BlockSession implements BlockTransport {
  readonly agent: HttpAgent | HttpsAgent;
  readonly budget: ByteBudget;
  /** The buffers bodies are read into, reused from block to block. */
  readonly buffers: BodyBuffers;
  /** Settles once everything the session held is released. */
  readonly closed: Promise<void>;
  readonly #pool: WorkerPool<BlockTaskResult> | null;
  readonly #reading: BlockReading;
  // Slots whose thread died reading them, read on this thread when fetched again.
  readonly #readHere = new Set<bigint>();

  constructor(signal: AbortSignal, options: BlockSessionOptions) {
    const Agent = options.url.protocol === "https:" ? HttpsAgent : HttpAgent;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
    this.budget = new ByteBudget(options.maxBytesInFlight);
    // As many bytes kept for reuse as may be in flight: the bodies of one round of requests.
    this.buffers = new BodyBuffers(options.maxBytesInFlight);
    this.#reading = options.reading;
    this.#pool =
      options.workers === 0
        ? null
        : new WorkerPool<BlockTaskResult>({
            script: options.workerScript ?? blockWorkerScript(),
            size: options.workers,
            name: "Kin4 block worker",
            resourceLimits: WORKER_LIMITS,
          });
    this.closed = new Promise<void>((resolve) => {
      const close = () => {
        void (this.#pool?.close() ?? Promise.resolve()).finally(() => {
          this.agent.destroy();
          resolve();
        });
      };
      if (signal.aborted) close();
      else signal.addEventListener("abort", close, { once: true });
    });
  }

  /** The Kin entries of one getBlock body, read by a worker thread when there are any and the body is large. */
  async read(slot: bigint, body: BlockBody, signal: AbortSignal): Promise<Entry[]> {
    const { bytes } = body;
    // Only a buffer of the session's moves to a worker or is reused: nothing else holds a view of it.
    const owned = this.buffers.owns(bytes.buffer);
    if (this.#pool === null || bytes.byteLength < IN_PROCESS_BELOW_BYTES || this.#readHere.has(slot)) {
      try {
        const entries = entriesOfBody(slot, body, this.#reading);
        this.#readHere.delete(slot);
        return entries;
      } finally {
        // The entries are copies: none of them points into the body.
        if (owned) this.buffers.give(bytes.buffer as ArrayBuffer);
      }
    }
    let result: BlockTaskResult;
    try {
      result = await this.#pool.run(
        { slot, bytes, encoding: body.encoding, mint: this.#reading.mint, extensions: this.#reading.extensions },
        owned ? [bytes.buffer as ArrayBuffer] : [],
        signal,
      );
    } catch (error) {
      // Out of memory, most likely: fetched again (a retry, as any failed read), it is read here.
      if (error instanceof WorkerCrashedError) this.#readHere.add(slot);
      throw error;
    }
    // The worker hands the body's buffer back with its answer.
    if (owned) this.buffers.give(result.body);
    if ("error" in result) throw fromWire(result.error);
    return result.entries.map((encoded) => fromBinary(EntrySchema, encoded));
  }
}

/**
 * The worker script, built JavaScript next to this module. Under vitest this
 * module is the TypeScript source, whose `.js` imports Node cannot resolve
 * without vitest: the worker then runs the package's build (`pnpm build`
 * comes before the tests).
 */
function blockWorkerScript(): URL {
  if (import.meta.url.endsWith(".ts")) return new URL("../../dist/solana/block-worker.js", import.meta.url);
  return new URL("./block-worker.js", import.meta.url);
}
