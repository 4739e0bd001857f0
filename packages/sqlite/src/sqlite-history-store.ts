import type { StatementSync } from "node:sqlite";
import {
  type AccountHistoryQuery,
  assertIngestorName,
  DoubleInsertError,
  type HistoryCodec,
  type HistoryStore,
  InvalidArgumentError,
  isTidemarkError,
  type PendingWrite,
  type Pointer,
  reconcileEntries,
  TurnBatcher,
  type Visibility,
  type WriteOptions,
} from "@tidemark/core";
import { accountHistorySql } from "./account-history-sql.js";
import {
  assertTableName,
  type Connection,
  connect,
  createsTables,
  type DatabaseSource,
  immediateTransaction,
  wrapMissingTable,
} from "./database.js";
import { hiddenRangesParameters, hiddenRangesSql } from "./hidden-ranges-sql.js";
import { createCommitTable, createHistoryTables, defaultTables } from "./schema.js";

export interface SqliteHistoryStoreOptions<E> extends DatabaseSource {
  /** Tells the store how to identify, index and serialise entries (e.g. `kinHistoryCodec` from `@tidemark/kin`). */
  readonly codec: HistoryCodec<E>;
  /** The ingestor whose committed pointer bounds what readers see (e.g. `history_KIN4`). */
  readonly ingestor: string;
  /** Entry table (default `tidemark_history`). */
  readonly table?: string;
  /** Account index table (default `tidemark_history_accounts`). */
  readonly accountTable?: string;
  /** The committer's table in the same file, read for visibility (default `tidemark_commits`). */
  readonly commitTable?: string;
  /** Create the tables if missing (default true; never with `readOnly`). */
  readonly createTables?: boolean;
  /**
   * Where the committed pointer comes from when commits are not in this file
   * (e.g. an etcd or DynamoDB committer). By default it is read from
   * `commitTable` in the same statement as the entries.
   */
  readonly committed?: (signal?: AbortSignal) => Promise<Pointer | null>;
  /**
   * Instead of `committed`, when several ingestors commit parts of this
   * history (a backfill's partitions next to the live ingestor): which blocks
   * readers may see, read before every read (`visibilityOf` in
   * `@tidemark/core` builds it). With nothing hidden the statements are those
   * of `committed`; hidden ranges add one condition each.
   */
  readonly visibility?: (signal?: AbortSignal) => Promise<Visibility>;
}

/** The reads, each one statement per shape of hidden ranges. */
type Read = "byId" | "accountAsc" | "accountDesc" | "accountAscAfter" | "accountDescBefore" | "range";

/** Statements kept for shapes of hidden ranges; beyond it the cache starts afresh (a statement is cheap to prepare). */
const MAX_HIDDEN_SHAPES = 64;

interface PendingRow<E> {
  readonly value: E;
  readonly ingestor: string;
  readonly id: Uint8Array;
  readonly block: Uint8Array;
  readonly key: Uint8Array;
  readonly entry: Uint8Array;
  readonly accounts: readonly string[];
}

interface EntryRow {
  entry: Uint8Array;
}

/**
 * Ingested entries in the same SQLite file as the commit pointers. Writes are
 * idempotent per transaction id; every read joins the committed pointer in the
 * same statement, so a block written but not yet committed stays invisible.
 */
export class SqliteHistoryStore<E> implements HistoryStore<E> {
  readonly ingestor: string;
  readonly #codec: HistoryCodec<E>;
  readonly #connection: Connection;
  readonly #insertEntry: StatementSync;
  readonly #insertAccount: StatementSync;
  readonly #storedEntry: StatementSync;
  readonly #replaceEntry: StatementSync;
  readonly #dropAccounts: StatementSync;
  readonly #reads: Record<Read, StatementSync>;
  readonly #readSql: (read: Read, shape: string) => string;
  readonly #hiddenShapes = new Map<string, StatementSync>();
  readonly #visibility: ((signal?: AbortSignal) => Promise<Visibility>) | undefined;
  readonly #batcher = new TurnBatcher<PendingRow<E>>({ send: (batch) => this.#flush(batch) });

  constructor(options: SqliteHistoryStoreOptions<E>) {
    assertIngestorName(options.ingestor);
    if (options.committed !== undefined && options.visibility !== undefined) {
      throw new InvalidArgumentError(
        `sqlite history store of "${options.ingestor}": give committed or visibility, not both`,
      );
    }
    this.ingestor = options.ingestor;
    this.#codec = options.codec;
    const history = assertTableName(options.table ?? defaultTables.history, "history table");
    const accounts = assertTableName(options.accountTable ?? defaultTables.historyAccounts, "account table");
    const commits = assertTableName(options.commitTable ?? defaultTables.commits, "commit table");
    this.#connection = connect(options, "history store");
    const { db } = this.#connection;
    if (createsTables(options)) {
      createHistoryTables(db, history, accounts);
      createCommitTable(db, commits);
    }
    const { committed: pointer } = options;
    this.#visibility =
      options.visibility ?? (pointer && (async (signal) => ({ upTo: await pointer(signal), hidden: [] })));
    const committed = this.#visibility ? ":committed" : `(SELECT latest FROM ${commits} WHERE ingestor = :ingestor)`;
    this.#readSql = (read, shape) => {
      const hidden = hiddenRangesSql(read === "byId" || read === "range" ? "block" : "h.block", shape);
      switch (read) {
        case "byId":
          return `SELECT entry FROM ${history}
        WHERE ingestor = :ingestor AND tx_id = :id AND block <= ${committed}${hidden}`;
        case "range":
          return `SELECT entry FROM ${history}
        WHERE ingestor = :ingestor AND block >= :from AND block <= :to AND block <= ${committed}${hidden}
        ORDER BY ordering_key, tx_id`;
        default: {
          const order = read === "accountAsc" || read === "accountAscAfter" ? "ASC" : "DESC";
          const withCursor = read === "accountAscAfter" || read === "accountDescBefore";
          return accountHistorySql({ history, accounts, committed, hidden, order, withCursor });
        }
      }
    };
    try {
      this.#insertEntry = db.prepare(`INSERT INTO ${history} (ingestor, tx_id, block, ordering_key, entry)
        VALUES (:ingestor, :id, :block, :key, :entry) ON CONFLICT DO NOTHING`);
      this.#insertAccount = db.prepare(`INSERT INTO ${accounts} (ingestor, account, ordering_key, tx_id)
        VALUES (:ingestor, :account, :key, :id) ON CONFLICT DO NOTHING`);
      this.#storedEntry = db.prepare(`SELECT entry FROM ${history} WHERE ingestor = :ingestor AND tx_id = :id`);
      this.#replaceEntry = db.prepare(`UPDATE ${history} SET block = :block, ordering_key = :key, entry = :entry
        WHERE ingestor = :ingestor AND tx_id = :id`);
      this.#dropAccounts = db.prepare(`DELETE FROM ${accounts} WHERE ingestor = :ingestor AND tx_id = :id`);
      const prepare = (read: Read) => db.prepare(this.#readSql(read, ""));
      this.#reads = {
        byId: prepare("byId"),
        accountAsc: prepare("accountAsc"),
        accountDesc: prepare("accountDesc"),
        accountAscAfter: prepare("accountAscAfter"),
        accountDescBefore: prepare("accountDescBefore"),
        range: prepare("range"),
      };
    } catch (error) {
      this.#connection.close();
      throw wrapMissingTable(error, history, this.#connection.label);
    }
  }

  /**
   * Stores `entry` unless its transaction id is already stored. Writes that
   * arrive in the same turn of the event loop are applied in one SQLite
   * transaction: an entry and its account rows land together or not at all,
   * and a block's entries cost one commit instead of one each.
   */
  write(entry: E, options: WriteOptions = {}): Promise<void> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const row: PendingRow<E> = {
      value: entry,
      ingestor: this.ingestor,
      id: this.#codec.transactionId(entry),
      block: this.#codec.block(entry),
      key: this.#codec.orderingKey(entry),
      entry: this.#codec.encode(entry),
      accounts: [...new Set(this.#codec.accounts(entry))],
    };
    return this.#batcher.submit(row, options.signal);
  }

  /** The turn's writes in one transaction; a write aborted meanwhile is left out. */
  #flush(batch: PendingWrite<PendingRow<E>>[]): void {
    const refused = new Map<number, unknown>();
    try {
      immediateTransaction(this.#connection.db, () => {
        for (const [i, { value: row, settled }] of batch.entries()) {
          if (settled) continue;
          try {
            this.#store(row);
          } catch (error) {
            // A contradicting entry is refused alone (nothing of it was written); the rest of the
            // turn's writes still land. Any other failure rolls the whole turn back.
            if (!isTidemarkError(error, DoubleInsertError)) throw error;
            refused.set(i, error);
          }
        }
      });
    } catch (error) {
      for (const write of batch) write.fail(error);
      return;
    }
    for (const [i, write] of batch.entries()) {
      if (refused.has(i)) write.fail(refused.get(i));
      else write.done();
    }
  }

  /** One entry and its account rows, inside the turn's transaction. */
  #store(row: PendingRow<E>): void {
    const { ingestor, id, block, key, entry, accounts } = row;
    if (this.#insertEntry.run({ ingestor, id, block, key, entry }).changes === 0) {
      // Already stored: the codec judges whether the new version adds, replaces or contradicts.
      const stored = this.#storedEntry.get({ ingestor, id }) as unknown as EntryRow;
      const where = `sqlite history store (${this.#connection.label})`;
      if (reconcileEntries(this.#codec, this.#codec.decode(stored.entry), row.value, where) === "keep") return;
      this.#replaceEntry.run({ ingestor, id, block, key, entry });
      this.#dropAccounts.run({ ingestor, id });
    }
    for (const account of accounts) this.#insertAccount.run({ ingestor, account, key, id });
  }

  async getTransaction(id: Uint8Array): Promise<E | null> {
    const { statement, parameters } = await this.#read("byId");
    const row = statement.get({ ingestor: this.ingestor, id, ...parameters }) as EntryRow | undefined;
    return row === undefined ? null : this.#codec.decode(row.entry);
  }

  async getAccountHistory(account: string, query: AccountHistoryQuery = {}): Promise<E[]> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`history query limit must be a positive integer, got ${limit}`);
    }
    const desc = query.order === "desc";
    const read: Read =
      query.cursor === undefined
        ? desc
          ? "accountDesc"
          : "accountAsc"
        : desc
          ? "accountDescBefore"
          : "accountAscAfter";
    const { statement, parameters } = await this.#read(read);
    const rows = statement.all({
      ingestor: this.ingestor,
      account,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      limit,
      ...parameters,
    }) as unknown as EntryRow[];
    return rows.map((row) => this.#codec.decode(row.entry));
  }

  async getBlockRange(from: Pointer, to: Pointer): Promise<E[]> {
    const { statement, parameters } = await this.#read("range");
    const rows = statement.all({ ingestor: this.ingestor, from, to, ...parameters }) as unknown as EntryRow[];
    return rows.map((row) => this.#codec.decode(row.entry));
  }

  /**
   * The statement of `read` for the current visibility, and its parameters:
   * none when the pointer is joined from the commit table; the pointer, and
   * the bounds of the hidden ranges with their own statement, otherwise.
   */
  async #read(read: Read): Promise<{ statement: StatementSync; parameters: Record<string, Uint8Array | null> }> {
    if (this.#visibility === undefined) return { statement: this.#reads[read], parameters: {} };
    const { shape, parameters } = hiddenRangesParameters(
      await this.#visibility(),
      `sqlite history store (${this.#connection.label})`,
    );
    if (shape === "") return { statement: this.#reads[read], parameters };
    const key = `${read} ${shape}`;
    let statement = this.#hiddenShapes.get(key);
    if (statement === undefined) {
      if (this.#hiddenShapes.size >= MAX_HIDDEN_SHAPES) this.#hiddenShapes.clear();
      statement = this.#connection.db.prepare(this.#readSql(read, shape));
      this.#hiddenShapes.set(key, statement);
    }
    return { statement, parameters };
  }

  /** Writes what is pending, then closes the connection if this store opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.#connection.closed) return;
    await this.#batcher.drain();
    this.#connection.close();
  }
}
