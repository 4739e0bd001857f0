import {
  type AccountHistoryQuery,
  assertIngestorName,
  assertPointer,
  type HistoryCodec,
  type HistoryStore,
  InvalidArgumentError,
  type Pointer,
  type Visibility,
  type WriteOptions,
} from "@tidemark/core";
import type { Collection, Filter } from "mongodb";
import { resolveCollection } from "./collection.js";
import { type MongoTarget, mongoCall } from "./errors.js";
import { prepareHistoryCollection } from "./history-indexes.js";
import {
  decodeHistoryEntry,
  type HistoryDocument,
  historyDocument,
  historyId,
  SIMPLE_COLLATION,
  type StoredEntryFields,
  toHex,
} from "./history-records.js";
import { type VisibleBlocks, visibleBlocks } from "./history-visibility.js";
import { HistoryWriter } from "./history-writes.js";
import type { MongoHistoryStoreOptions } from "./options.js";

export const DEFAULT_HISTORY_COLLECTION = "tidemark_history";
const DEFAULT_BATCH_SIZE = 100;

/** Reads fetch the entry and its ordering key, never the account list. */
const ENTRY_FIELDS = { entry: 1, key: 1 } as const;

/**
 * Ingested entries in MongoDB: one document per (ingestor, transaction), so an
 * entry and its account listing are written, replaced and read as one.
 * Writes are idempotent per transaction id and batched per turn of the event
 * loop into unordered `insertMany` calls; reads return only entries at or
 * below the committed pointer. It never closes the client it is given.
 */
export class MongoHistoryStore<E> implements HistoryStore<E> {
  readonly ingestor: string;
  /** `database.collection` of the entries. */
  readonly namespace: string;
  readonly #codec: HistoryCodec<E>;
  readonly #visibility: (signal?: AbortSignal) => Promise<Visibility>;
  readonly #collection: Collection<HistoryDocument>;
  readonly #target: MongoTarget;
  readonly #createIndexes: boolean;
  readonly #writer: HistoryWriter<E>;
  #ready: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: MongoHistoryStoreOptions<E>) {
    if (options?.codec == null) throw new InvalidArgumentError("mongodb history store: options.codec is required");
    const { committed, visibility } = options;
    if (committed !== undefined && visibility !== undefined) {
      throw new InvalidArgumentError("mongodb history store: give options.committed or options.visibility, not both");
    }
    if (typeof (visibility ?? committed) !== "function") {
      throw new InvalidArgumentError(
        `mongodb history store: options.${visibility === undefined ? "committed" : "visibility"} must be a function`,
      );
    }
    assertIngestorName(options.ingestor);
    const resolved = resolveCollection<HistoryDocument>(
      options,
      options.collection ?? DEFAULT_HISTORY_COLLECTION,
      "history store",
    );
    this.ingestor = options.ingestor;
    this.namespace = resolved.namespace;
    this.#codec = options.codec;
    this.#visibility =
      visibility ??
      (async (signal) => ({ upTo: await (committed as NonNullable<typeof committed>)(signal), hidden: [] }));
    this.#collection = resolved.collection;
    this.#target = resolved.target;
    this.#createIndexes = options.createIndexes ?? true;
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InvalidArgumentError(`mongodb history store: batchSize must be a positive integer, got ${batchSize}`);
    }
    this.#writer = new HistoryWriter({
      codec: this.#codec,
      collection: this.#collection,
      namespace: this.namespace,
      target: this.#target,
      ready: () => this.ensureIndexes(),
      batchSize,
    });
  }

  /**
   * Checks the collection and creates the indexes (unless `createIndexes` is
   * false). The first write or read does it anyway; call it at start-up to
   * fail early. A failure is not remembered: the next call tries again.
   */
  ensureIndexes(): Promise<void> {
    if (this.#ready === null) {
      const ready = prepareHistoryCollection(this.#collection, this.namespace, this.#target, this.#createIndexes);
      this.#ready = ready;
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = null;
      });
    }
    return this.#ready;
  }

  /**
   * Stores `entry` unless its transaction is already stored; a stored one is
   * judged by the codec (`reconcile`): kept, replaced, or `DoubleInsertError`.
   * Writes of the same turn of the event loop go to the server together, as
   * unordered `insertMany` calls of at most `batchSize` documents. A write whose signal is aborted before that is
   * never sent and rejects with the signal's reason.
   */
  write(entry: E, options: WriteOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closing !== null) return Promise.reject(this.#closedError("write"));
    let document: HistoryDocument;
    try {
      document = historyDocument(this.#codec, this.ingestor, entry);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#writer.write(entry, document, signal);
  }

  async getTransaction(id: Uint8Array): Promise<E | null> {
    if (!(id instanceof Uint8Array) || id.length === 0) {
      throw new InvalidArgumentError("mongodb history store: a transaction id must be a non-empty Uint8Array");
    }
    const visible = await this.#visibleBlocks("getTransaction");
    if (visible === null) return null;
    const what = `reading history entry ${toHex(id)} of "${this.ingestor}" in ${this.namespace}`;
    const document = await mongoCall(what, this.#target, undefined, () =>
      this.#collection.findOne(
        { _id: historyId(this.ingestor, id), block: { $lte: visible.upTo }, ...visible.hidden },
        { projection: ENTRY_FIELDS, collation: SIMPLE_COLLATION },
      ),
    );
    return document === null ? null : decodeHistoryEntry(this.#codec, document, this.namespace);
  }

  async getAccountHistory(account: string, query: AccountHistoryQuery = {}): Promise<E[]> {
    if (typeof account !== "string") throw new InvalidArgumentError("mongodb history store: account must be a string");
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`mongodb history store: limit must be a positive integer, got ${limit}`);
    }
    if (query.cursor !== undefined && !(query.cursor instanceof Uint8Array)) {
      throw new InvalidArgumentError("mongodb history store: cursor must be an ordering key (a Uint8Array)");
    }
    const visible = await this.#visibleBlocks("getAccountHistory");
    if (visible === null) return [];
    const direction = query.order === "desc" ? -1 : 1;
    const filter: Filter<HistoryDocument> = {
      "_id.i": this.ingestor,
      accounts: account,
      block: { $lte: visible.upTo },
      ...visible.hidden,
    };
    if (query.cursor !== undefined) filter.key = { [direction === 1 ? "$gt" : "$lt"]: toHex(query.cursor) };
    const what = `reading the history of account ${JSON.stringify(account)} of "${this.ingestor}" in ${this.namespace}`;
    const documents = await mongoCall(what, this.#target, undefined, () =>
      this.#collection
        .find<StoredEntryFields>(filter, {
          projection: ENTRY_FIELDS,
          // The account index's order: the ordering key, then the transaction id for equal keys.
          sort: { key: direction, "_id.t": direction },
          limit,
          collation: SIMPLE_COLLATION,
        })
        .toArray(),
    );
    return documents.map((document) => decodeHistoryEntry(this.#codec, document, this.namespace));
  }

  async getBlockRange(from: Pointer, to: Pointer): Promise<E[]> {
    assertPointer(from, "from");
    assertPointer(to, "to");
    const visible = await this.#visibleBlocks("getBlockRange");
    if (visible === null) return [];
    const last = toHex(to);
    const upTo = compareStrings(last, visible.upTo) <= 0 ? last : visible.upTo;
    const what = `reading blocks ${toHex(from)}..${toHex(to)} of "${this.ingestor}" in ${this.namespace}`;
    // Sorted here, not by the server: a range is returned whole anyway, and a server-side sort by
    // ordering key (the block index is ordered by block first) would hold all of it in the server's memory.
    const documents = await mongoCall(what, this.#target, undefined, () =>
      this.#collection
        .find<StoredEntryFields>(
          { "_id.i": this.ingestor, block: { $gte: toHex(from), $lte: upTo }, ...visible.hidden },
          { projection: ENTRY_FIELDS, collation: SIMPLE_COLLATION },
        )
        .toArray(),
    );
    const entries = documents.map((document) => ({
      key: typeof document.key === "string" ? document.key : "",
      id: document._id,
      entry: decodeHistoryEntry(this.#codec, document, this.namespace),
    }));
    entries.sort((a, b) => compareStrings(a.key, b.key) || compareBinData(a.id.t.value(), b.id.t.value()));
    return entries.map(({ entry }) => entry);
  }

  /** Sends pending writes and waits for them; the client stays open (it is the caller's). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#writer.drain();
    return this.#closing;
  }

  /** The visible blocks as the hex `block` is compared with, or null when nothing is committed. */
  async #visibleBlocks(call: string): Promise<VisibleBlocks | null> {
    if (this.#closing !== null) throw this.#closedError(call);
    const [visibility] = await Promise.all([this.#visibility(), this.ensureIndexes()]);
    return visibleBlocks(visibility, "mongodb history store");
  }

  #closedError(call: string): InvalidArgumentError {
    return new InvalidArgumentError(`mongodb history store on ${this.namespace}: ${call}() after close()`);
  }
}

/** Hex strings of bytes: code-unit order is byte order, a prefix first. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The server's BinData order (length first), so equal ordering keys tie-break as in `getAccountHistory`. */
function compareBinData(a: Uint8Array, b: Uint8Array): number {
  return a.length - b.length || Buffer.compare(a, b);
}
