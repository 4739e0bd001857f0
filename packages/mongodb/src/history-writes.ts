import {
  BackendUnavailableError,
  DoubleInsertError,
  type HistoryCodec,
  isTidemarkError,
  type PendingWrite,
  reconcileEntries,
  TurnBatcher,
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

/** What one write asks for: the entry and the document it becomes. */
interface Write<E> {
  readonly entry: E;
  readonly document: HistoryDocument;
}

/** How often one write may find its stored version changed under it before it gives up (and `run` retries it). */
const MAX_ROUNDS = 10;

/**
 * Batches the writes of one turn of the event loop into unordered
 * `insertMany` calls of at most `batchSize` documents. A transaction already
 * stored (a duplicate key) is settled alone by the codec's rules; every other
 * write of the batch lands regardless.
 */
export class HistoryWriter<E> {
  readonly #context: HistoryWriterContext<E>;
  readonly #batcher: TurnBatcher<Write<E>>;

  constructor(context: HistoryWriterContext<E>) {
    this.#context = context;
    this.#batcher = new TurnBatcher<Write<E>>({
      send: (batch) => this.#send(batch),
      // Several commands at once rather than one long one: writers that resumed in the same turn
      // (blocks written concurrently) keep their parallelism.
      split: function* (writes) {
        for (let start = 0; start < writes.length; start += context.batchSize) {
          yield writes.slice(start, start + context.batchSize);
        }
      },
    });
  }

  write(entry: E, document: HistoryDocument, signal: AbortSignal | undefined): Promise<void> {
    return this.#batcher.submit({ entry, document }, signal);
  }

  /** Sends what is pending now, without waiting for the end of the turn. */
  flush(): void {
    this.#batcher.flush();
  }

  /** Sends what is pending and waits until every batch sent has settled. */
  drain(): Promise<void> {
    return this.#batcher.drain();
  }

  /** Never rejects: every write of the batch is settled. */
  async #send(taken: PendingWrite<Write<E>>[]): Promise<void> {
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
            batch.map((write) => write.value.document),
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
                `mongodb: inserting history ${describeStored(write.value.document)} into ${namespace} failed: ${refusal.message}`,
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
  async #settleDuplicate(write: PendingWrite<Write<E>>): Promise<void> {
    const { codec, collection, namespace, target } = this.#context;
    const { _id } = write.value.document;
    const what = `history ${describeStored(write.value.document)} in ${namespace}`;
    for (let round = 0; round < MAX_ROUNDS && !write.settled; round++) {
      const stored = await mongoCall(`reading ${what}`, target, undefined, () =>
        collection.findOne({ _id }, { projection: { entry: 1 } }),
      );
      if (stored === null) {
        // Deleted since the duplicate-key error (an operator's cleanup): insert it again.
        try {
          await mongoCall(`inserting ${what}`, target, undefined, () => collection.insertOne(write.value.document));
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
          write.value.entry,
          `mongodb history store (${namespace})`,
        );
      } catch (error) {
        if (!isTidemarkError(error, DoubleInsertError)) throw error;
        throw new DoubleInsertError(`mongodb: ${what} not written: ${(error as Error).message}`, { cause: error });
      }
      if (verdict === "keep") return;
      const result = await mongoCall(`replacing ${what}`, target, undefined, () =>
        collection.replaceOne({ _id, entry: stored.entry }, write.value.document),
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
