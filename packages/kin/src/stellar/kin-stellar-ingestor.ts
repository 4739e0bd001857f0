import {
  BoundedResultQueue,
  type Ingestor,
  InvalidArgumentError,
  type Logger,
  type Pointer,
  type Result,
  type ResultQueue,
  silentLogger,
  type Writer,
} from "@tidemark/core";
import { type Entry, KinVersion } from "../gen/model_pb.js";
import { createStellarEntry } from "../model/entry.js";
import { ledgerFromPointer, stellarPointer } from "../model/pointer.js";
import { getHistoryIngestorName } from "../model/version.js";
import type { RequestListener } from "../request-listener.js";
import type { RetryOptions } from "../retry.js";
import type { RetryListener } from "../retry-listener.js";
import { Semaphore } from "../semaphore.js";
import { HorizonClient, type LedgerInfo } from "./horizon-client.js";
import { LedgerStream } from "./ledger-stream.js";
import { KIN2_MAINNET, KIN3_MAINNET } from "./networks.js";
import type { KinStellarIngestorOptions } from "./options.js";

/**
 * Follows a Horizon server's ledgers (Kin2, Kin3, or any Stellar network) and
 * writes each of their transactions as an agora `Entry`. Ledgers stream in
 * ascending order from the parent's cursor; their transactions are paged
 * `concurrency` ledgers at a time and results are delivered in ledger order.
 */
export class KinStellarIngestor implements Ingestor<Entry> {
  readonly name: string;
  readonly version: KinVersion.KIN2 | KinVersion.KIN3;
  readonly networkPassphrase: string;
  readonly #client: HorizonClient;
  readonly #concurrency: number;
  readonly #bound: number;
  readonly #pageLimit: number;
  readonly #streamBuffer: number;
  readonly #idleTimeoutMs: number;
  readonly #retry: RetryOptions;
  readonly #onRetry: RetryListener | undefined;
  readonly #onRequestSucceeded: RequestListener | undefined;
  readonly #log: Logger;

  constructor(options: KinStellarIngestorOptions) {
    this.version = options.version ?? KinVersion.KIN3;
    if (this.version !== KinVersion.KIN2 && this.version !== KinVersion.KIN3) {
      throw new InvalidArgumentError(`Horizon ingestor: version must be KIN2 or KIN3, got ${String(this.version)}`);
    }
    this.networkPassphrase =
      options.networkPassphrase ?? (this.version === KinVersion.KIN2 ? KIN2_MAINNET : KIN3_MAINNET).passphrase;
    if (this.networkPassphrase === "")
      throw new InvalidArgumentError("Horizon ingestor: networkPassphrase must not be empty");
    this.name = options.name ?? getHistoryIngestorName(this.version);
    this.#concurrency = positiveInteger("concurrency", options.concurrency ?? 8);
    this.#bound = positiveInteger("bound", options.bound ?? 64);
    this.#pageLimit = positiveInteger("pageLimit", options.pageLimit ?? 200);
    if (this.#pageLimit > 200)
      throw new InvalidArgumentError(
        `Horizon ingestor: pageLimit must be at most 200 (Horizon's maximum), got ${this.#pageLimit}`,
      );
    this.#streamBuffer = positiveInteger("streamBuffer", options.streamBuffer ?? 256);
    this.#idleTimeoutMs = positiveInteger("streamIdleTimeoutMs", options.streamIdleTimeoutMs ?? 15_000);
    this.#retry = options.retry ?? {};
    this.#onRetry = options.onRetry;
    this.#onRequestSucceeded = options.onRequestSucceeded;
    this.#log = options.logger ?? silentLogger;
    this.#client = new HorizonClient({
      url: options.horizonUrl,
      allowHttp: options.allowHttp ?? false,
      ...(options.headers ? { headers: options.headers } : {}),
      requestTimeoutMs: positiveInteger("requestTimeoutMs", options.requestTimeoutMs ?? 30_000),
      retry: this.#retry,
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.onRequestSucceeded ? { onRequestSucceeded: options.onRequestSucceeded } : {}),
      logger: this.#log,
    });
  }

  /** Horizon's newest ledger, for lag reporting. */
  async head(signal: AbortSignal): Promise<Pointer> {
    return stellarPointer(this.version, await this.#client.latestLedger(signal));
  }

  async ingest(signal: AbortSignal, writer: Writer<Entry>, parent: Pointer | null): Promise<ResultQueue> {
    // A pointer of the wrong length or version throws here, before anything runs.
    const after = parent === null ? null : ledgerFromPointer(parent, this.version);
    const queue = new BoundedResultQueue({ signal, bound: this.#bound });
    void this.#produce(signal, writer, parent, after, queue);
    return queue;
  }

  async #produce(
    signal: AbortSignal,
    writer: Writer<Entry>,
    parent: Pointer | null,
    after: number | null,
    queue: BoundedResultQueue,
  ): Promise<void> {
    const stream = new LedgerStream({
      client: this.#client,
      after,
      highWater: this.#streamBuffer,
      idleTimeoutMs: this.#idleTimeoutMs,
      retry: this.#retry,
      ...(this.#onRetry ? { onRetry: this.#onRetry } : {}),
      ...(this.#onRequestSucceeded ? { onRequestSucceeded: this.#onRequestSucceeded } : {}),
      logger: this.#log,
    });
    const permits = new Semaphore(this.#concurrency);
    let previous = parent;
    try {
      while (true) {
        const ledger = await stream.next(signal);
        // The committed parent is never processed again (the cursor already excludes it).
        if (after !== null && ledger.sequence <= after) continue;
        await permits.acquire(signal);
        const block = stellarPointer(this.version, ledger.sequence);
        const result = this.#process(signal, writer, previous, block, ledger).finally(() => permits.release());
        if (!(await queue.push(result))) return;
        previous = block;
      }
    } catch (error) {
      if (signal.aborted) return;
      this.#log.warn({ ingestor: this.name, err: error }, "Horizon ingestion stopped: the ledger stream failed");
      queue.fail(error);
    } finally {
      stream.close();
    }
  }

  async #process(
    signal: AbortSignal,
    writer: Writer<Entry>,
    parent: Pointer | null,
    block: Pointer,
    ledger: LedgerInfo,
  ): Promise<Result> {
    try {
      if (!ledger.empty) await this.#writeLedger(signal, writer, ledger);
      return { parent, block };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      this.#log.warn({ ingestor: this.name, ledger: ledger.sequence, err: error }, "Horizon ledger failed");
      return { parent, block, error };
    }
  }

  async #writeLedger(signal: AbortSignal, writer: Writer<Entry>, ledger: LedgerInfo): Promise<void> {
    let cursor = "";
    while (true) {
      const page = await this.#client.transactions(signal, ledger.sequence, cursor, this.#pageLimit);
      for (const transaction of page) {
        signal.throwIfAborted();
        const entry = createStellarEntry({
          version: this.version,
          ledger: ledger.sequence,
          pagingToken: transaction.pagingToken,
          ledgerCloseTime: ledger.closedAt,
          networkPassphrase: this.networkPassphrase,
          envelopeXdr: transaction.envelopeXdr,
          resultXdr: transaction.resultXdr,
        });
        await writer.write(entry, { signal });
      }
      // A short page is the last one: no need for agora's extra request that returns nothing.
      if (page.length < this.#pageLimit) return;
      cursor = String(page[page.length - 1]?.pagingToken);
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`Horizon ingestor: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
