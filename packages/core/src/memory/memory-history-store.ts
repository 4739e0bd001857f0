import { reconcileEntries } from "../history-rules.js";
import { comparePointers, type Pointer } from "../pointer.js";
import type { AccountHistoryQuery, HistoryCodec, HistoryStore, WriteOptions } from "../writer.js";

interface StoredEntry {
  readonly accounts: readonly string[];
  readonly bytes: Uint8Array;
  readonly block: Pointer;
  readonly orderingKey: Uint8Array;
}

export interface MemoryHistoryStoreOptions<E> {
  readonly codec: HistoryCodec<E>;
  /** The committed pointer; entries above it stay invisible to readers. */
  readonly committed: () => Promise<Pointer | null>;
}

/**
 * A history store in process memory: idempotent writes per transaction id,
 * reads limited to what is committed.
 */
export class MemoryHistoryStore<E> implements HistoryStore<E> {
  readonly #codec: HistoryCodec<E>;
  readonly #committed: () => Promise<Pointer | null>;
  readonly #byId = new Map<string, StoredEntry>();
  readonly #byAccount = new Map<string, Set<string>>();

  constructor(options: MemoryHistoryStoreOptions<E>) {
    this.#codec = options.codec;
    this.#committed = options.committed;
  }

  /** Distinct transactions stored, committed or not. */
  get size(): number {
    return this.#byId.size;
  }

  async write(entry: E, options: WriteOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    const id = hex(this.#codec.transactionId(entry));
    const stored = this.#byId.get(id);
    if (stored !== undefined) {
      const stays = reconcileEntries(this.#codec, this.#codec.decode(stored.bytes), entry, "memory history store");
      if (stays === "keep") return;
      for (const account of stored.accounts) this.#byAccount.get(account)?.delete(id);
    }
    const accounts = [...new Set(this.#codec.accounts(entry))];
    this.#byId.set(id, {
      accounts,
      bytes: this.#codec.encode(entry),
      block: this.#codec.block(entry),
      orderingKey: this.#codec.orderingKey(entry),
    });
    for (const account of accounts) {
      let ids = this.#byAccount.get(account);
      if (ids === undefined) {
        ids = new Set();
        this.#byAccount.set(account, ids);
      }
      ids.add(id);
    }
  }

  /** Nothing to close: the entries live as long as the store object. */
  async close(): Promise<void> {}

  async getTransaction(id: Uint8Array): Promise<E | null> {
    const stored = this.#byId.get(hex(id));
    if (stored === undefined || !isVisible(stored, await this.#committed())) return null;
    return this.#codec.decode(stored.bytes);
  }

  async getAccountHistory(account: string, query: AccountHistoryQuery = {}): Promise<E[]> {
    const committed = await this.#committed();
    const descending = query.order === "desc";
    const cursor = query.cursor;
    const entries = [...(this.#byAccount.get(account) ?? [])]
      .map((id) => this.#byId.get(id) as StoredEntry)
      .filter((stored) => isVisible(stored, committed))
      .filter((stored) => {
        if (cursor === undefined) return true;
        const order = comparePointers(stored.orderingKey, cursor);
        return descending ? order < 0 : order > 0;
      })
      .sort((a, b) => comparePointers(a.orderingKey, b.orderingKey) * (descending ? -1 : 1));
    return entries.slice(0, query.limit ?? 100).map((stored) => this.#codec.decode(stored.bytes));
  }

  async getBlockRange(from: Pointer, to: Pointer): Promise<E[]> {
    const committed = await this.#committed();
    return [...this.#byId.values()]
      .filter(
        (s) => isVisible(s, committed) && comparePointers(s.block, from) >= 0 && comparePointers(s.block, to) <= 0,
      )
      .sort((a, b) => comparePointers(a.orderingKey, b.orderingKey))
      .map((stored) => this.#codec.decode(stored.bytes));
  }
}

function isVisible(stored: StoredEntry, committed: Pointer | null): boolean {
  return committed !== null && comparePointers(stored.block, committed) <= 0;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
