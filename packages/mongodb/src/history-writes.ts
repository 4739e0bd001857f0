import {
  BackendUnavailableError,
  DoubleInsertError,
  type HistoryCodec,
  isTidemarkError,
  reconcileEntries,
} from "@tidemark/core";
import type { Collection } from "mongodb";
import { isDuplicateKey, type MongoTarget, mongoCall } from "./errors.js";
import { decodeHistoryEntry, describeStored, type HistoryDocument } from "./history-records.js";

/** What the writer needs of its store. */
export interface HistoryWriterContext<E> {
  readonly codec: HistoryCodec<E>;
  readonly collection: Collection<HistoryDocument>;
  readonly namespace: string;
  readonly target: MongoTarget;
  /** Resolves once the collection was checked and indexed. */
  readonly ready: () => Promise<void>;
  /** Most documents per insert command. */
  readonly batchSize: number;
}

/** How often one write may find its stored version changed under it before it gives up (and `run` retries it). */
const MAX_ROUNDS = 10;

/** One write waiting for its batch: it settles once, by its batch or by its signal. */
class PendingWrite<E> {
  settled = false;
  readonly #resolve: () => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: () => void;

  constructor(
    readonly entry: E,
    readonly document: HistoryDocument,
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

/**
 * Batches the writes of one turn of the event loop into unordered
 * `insertMany` calls of at most `batchSize` documents. A transaction already
 * stored (a duplicate key) is settled alone by the codec's rules; every other
 * write of the batch lands regardless.
 */
export class HistoryWriter<E> {
  readonly #context: HistoryWriterContext<E>;
  readonly #pending: PendingWrite<E>[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #scheduled: NodeJS.Immediate | null = null;

  constructor(context: HistoryWriterContext<E>) {
    this.#context = context;
  }

  write(entry: E, document: HistoryDocument, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push(new PendingWrite(entry, document, signal, resolve, reject));
      this.#scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Sends what is pending now, without waiting for the end of the turn. */
  flush(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const pending = this.#pending.splice(0).filter((write) => !write.settled);
    // Several commands at once rather than one long one: writers that resumed in the same turn
    // (blocks written concurrently) keep their parallelism.
    const { batchSize } = this.#context;
    for (let start = 0; start < pending.length; start += batchSize) {
      const sending = this.#send(pending.slice(start, start + batchSize));
      this.#inFlight.add(sending);
      void sending.finally(() => this.#inFlight.delete(sending));
    }
  }

  /** Sends what is pending and waits until every batch sent has settled. */
  async drain(): Promise<void> {
    this.flush();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Never rejects: every write of the batch is settled. */
  async #send(taken: PendingWrite<E>[]): Promise<void> {
    const { collection, namespace, target } = this.#context;
    let batch = taken;
    try {
      await this.#context.ready();
      // Aborted while the collection was being checked (on first use): still never sent.
      batch = taken.filter((write) => !write.settled);
      if (batch.length === 0) return;
      await mongoCall(`inserting ${batch.length} history entries into ${namespace}`, target, undefined, () =>
        collection
          .insertMany(
            batch.map((write) => write.document),
            { ordered: false },
          )
          .catch((error: unknown) => {
            throw unwrapBulkError(error);
          }),
      );
    } catch (error) {
      const refused = refusedDocuments(error);
      if (refused === null) {
        for (const write of batch) write.fail(error);
        return;
      }
      await Promise.all(
        batch.map(async (write, index) => {
          const refusal = refused.get(index);
          if (refusal === undefined) return write.done();
          if (refusal.code !== 11000) {
            return write.fail(
              new Error(
                `mongodb: inserting history ${describeStored(write.document)} into ${namespace} failed: ${refusal.message}`,
                { cause: error },
              ),
            );
          }
          try {
            await this.#settleDuplicate(write);
            write.done();
          } catch (settleError) {
            write.fail(settleError);
          }
        }),
      );
      return;
    }
    for (const write of batch) write.done();
  }

  /**
   * The transaction is already stored: the codec judges the stored version
   * against this one. A replacement is conditional on the stored bytes, so a
   * concurrent writer's replacement is judged again instead of overwritten.
   */
  async #settleDuplicate(write: PendingWrite<E>): Promise<void> {
    const { codec, collection, namespace, target } = this.#context;
    const { _id } = write.document;
    const what = `history ${describeStored(write.document)} in ${namespace}`;
    for (let round = 0; round < MAX_ROUNDS && !write.settled; round++) {
      const stored = await mongoCall(`reading ${what}`, target, undefined, () =>
        collection.findOne({ _id }, { projection: { entry: 1 } }),
      );
      if (stored === null) {
        // Deleted since the duplicate-key error (an operator's cleanup): insert it again.
        try {
          await mongoCall(`inserting ${what}`, target, undefined, () => collection.insertOne(write.document));
          return;
        } catch (error) {
          if (isDuplicateKey(error)) continue;
          throw error;
        }
      }
      let verdict: "keep" | "replace";
      try {
        verdict = reconcileEntries(
          codec,
          decodeHistoryEntry(codec, stored, namespace),
          write.entry,
          `mongodb history store (${namespace})`,
        );
      } catch (error) {
        if (!isTidemarkError(error, DoubleInsertError)) throw error;
        throw new DoubleInsertError(`mongodb: ${what} not written: ${(error as Error).message}`, { cause: error });
      }
      if (verdict === "keep") return;
      const result = await mongoCall(`replacing ${what}`, target, undefined, () =>
        collection.replaceOne({ _id, entry: stored.entry }, write.document),
      );
      if (result.matchedCount === 1) return;
    }
    if (write.settled) return;
    throw new BackendUnavailableError(
      `mongodb: ${what} changed under concurrent writers ${MAX_ROUNDS} times in a row; nothing was written, try again`,
    );
  }
}

/**
 * The driver wraps every failure of a bulk write in MongoBulkWriteError, also a
 * lost connection or an unreachable server: those are unwrapped so that they
 * are classified as the outages they are.
 */
function unwrapBulkError(error: unknown): unknown {
  if ((error as Error | null)?.name !== "MongoBulkWriteError") return error;
  const inner = (error as { errorResponse?: unknown }).errorResponse;
  return inner instanceof Error ? inner : error;
}

interface Refusal {
  readonly code: unknown;
  readonly message: string;
}

/**
 * The documents the server refused one by one, by index in the batch; null
 * when the batch as a whole failed (then the outcome of every write is unknown).
 */
function refusedDocuments(error: unknown): Map<number, Refusal> | null {
  const bulk = findBulkError(error);
  if (bulk === null) return null;
  // A write concern error leaves every write of the batch unconfirmed.
  if (bulk.result?.getWriteConcernError?.() != null) return null;
  const writeErrors = bulk.writeErrors === undefined ? [] : [bulk.writeErrors].flat();
  if (writeErrors.length === 0) return null;
  const refused = new Map<number, Refusal>();
  for (const writeError of writeErrors) {
    if (typeof writeError?.index !== "number") return null;
    refused.set(writeError.index, { code: writeError.code, message: String(writeError.errmsg ?? "write error") });
  }
  return refused;
}

interface BulkErrorShape {
  readonly writeErrors?: WriteErrorShape | WriteErrorShape[];
  readonly result?: { getWriteConcernError?: () => unknown };
}

interface WriteErrorShape {
  readonly index?: unknown;
  readonly code?: unknown;
  readonly errmsg?: unknown;
}

function findBulkError(error: unknown): BulkErrorShape | null {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current.name === "MongoBulkWriteError") return current as BulkErrorShape;
  }
  return null;
}
