import type { Pointer } from "./pointer.js";

export interface WriteOptions {
  readonly signal?: AbortSignal;
}

/**
 * Where ingested entries go. `write` must be idempotent per transaction id:
 * after a restart a block is ingested again and must add nothing new.
 */
export interface Writer<E = unknown> {
  write(entry: E, options?: WriteOptions): Promise<void>;
}

/**
 * What a history store needs to know about a chain's entries without knowing
 * the chain: how to identify, index, order and serialise them.
 */
export interface HistoryCodec<E> {
  /** Unique per transaction; the key writes are idempotent on. */
  transactionId(entry: E): Uint8Array;
  /** Accounts the entry is listed under. */
  accounts(entry: E): readonly string[];
  /** Orders entries within an account's history (byte order). */
  orderingKey(entry: E): Uint8Array;
  /** The pointer of the block the entry belongs to. */
  block(entry: E): Pointer;
  encode(entry: E): Uint8Array;
  decode(bytes: Uint8Array): E;
  /**
   * Judges a second write of a stored transaction id: `"keep"` when the stored
   * entry stands (the same entry again, or an older version), `"replace"` when
   * the incoming one supersedes it (e.g. a Solana entry that became
   * confirmed). Throws `DoubleInsertError` when the two contradict. Without
   * it, only byte-identical entries are accepted twice.
   */
  reconcile?(stored: E, incoming: E): "keep" | "replace";
}

/** A history store: idempotent writes, committed-only reads, and `close()`. */
export interface HistoryStore<E> extends Writer<E>, HistoryReader<E> {
  /** Finishes pending writes and closes the connections the store opened. Idempotent. */
  close(): Promise<void>;
}

export interface AccountHistoryQuery {
  /** Ascending (oldest first, the default) or descending. */
  readonly order?: "asc" | "desc";
  /** An ordering key; only entries strictly after it (in `order`) are returned. */
  readonly cursor?: Uint8Array;
  /** At most this many entries (default 100). */
  readonly limit?: number;
}

/**
 * Reads back what was ingested. Only entries whose block is at or below the
 * committed pointer are visible: a block written but not yet committed may
 * still be rolled back by a restart.
 */
export interface HistoryReader<E> {
  getTransaction(id: Uint8Array): Promise<E | null>;
  getAccountHistory(account: string, query?: AccountHistoryQuery): Promise<E[]>;
  /** Entries whose block lies in `[from, to]`, in ordering-key order. */
  getBlockRange(from: Pointer, to: Pointer): Promise<E[]>;
}
