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
}

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
  readonly #byId: StatementSync;
  readonly #accountAsc: StatementSync;
  readonly #accountDesc: StatementSync;
  readonly #accountAscAfter: StatementSync;
  readonly #accountDescBefore: StatementSync;
  readonly #range: StatementSync;
  readonly #committed: ((signal?: AbortSignal) => Promise<Pointer | null>) | undefined;
  readonly #batcher = new TurnBatcher<PendingRow<E>>({ send: (batch) => this.#flush(batch) });

  constructor(options: SqliteHistoryStoreOptions<E>) {
    assertIngestorName(options.ingestor);
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
    this.#committed = options.committed;
    const committed = this.#committed ? ":committed" : `(SELECT latest FROM ${commits} WHERE ingestor = :ingestor)`;
    try {
      this.#insertEntry = db.prepare(`INSERT INTO ${history} (ingestor, tx_id, block, ordering_key, entry)
        VALUES (:ingestor, :id, :block, :key, :entry) ON CONFLICT DO NOTHING`);
      this.#insertAccount = db.prepare(`INSERT INTO ${accounts} (ingestor, account, ordering_key, tx_id)
        VALUES (:ingestor, :account, :key, :id) ON CONFLICT DO NOTHING`);
      this.#storedEntry = db.prepare(`SELECT entry FROM ${history} WHERE ingestor = :ingestor AND tx_id = :id`);
      this.#replaceEntry = db.prepare(`UPDATE ${history} SET block = :block, ordering_key = :key, entry = :entry
        WHERE ingestor = :ingestor AND tx_id = :id`);
      this.#dropAccounts = db.prepare(`DELETE FROM ${accounts} WHERE ingestor = :ingestor AND tx_id = :id`);
      this.#byId = db.prepare(`SELECT entry FROM ${history}
        WHERE ingestor = :ingestor AND tx_id = :id AND block <= ${committed}`);
      const accountQuery = (order: "ASC" | "DESC", withCursor: boolean) =>
        accountHistorySql({ history, accounts, committed, order, withCursor });
      this.#accountAsc = db.prepare(accountQuery("ASC", false));
      this.#accountDesc = db.prepare(accountQuery("DESC", false));
      this.#accountAscAfter = db.prepare(accountQuery("ASC", true));
      this.#accountDescBefore = db.prepare(accountQuery("DESC", true));
      this.#range = db.prepare(`SELECT entry FROM ${history}
        WHERE ingestor = :ingestor AND block >= :from AND block <= :to AND block <= ${committed}
        ORDER BY ordering_key, tx_id`);
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
    const row = this.#byId.get({ ingestor: this.ingestor, id, ...(await this.#visibility()) }) as EntryRow | undefined;
    return row === undefined ? null : this.#codec.decode(row.entry);
  }

  async getAccountHistory(account: string, query: AccountHistoryQuery = {}): Promise<E[]> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`history query limit must be a positive integer, got ${limit}`);
    }
    const desc = query.order === "desc";
    const statement =
      query.cursor === undefined
        ? desc
          ? this.#accountDesc
          : this.#accountAsc
        : desc
          ? this.#accountDescBefore
          : this.#accountAscAfter;
    const rows = statement.all({
      ingestor: this.ingestor,
      account,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      limit,
      ...(await this.#visibility()),
    }) as unknown as EntryRow[];
    return rows.map((row) => this.#codec.decode(row.entry));
  }

  async getBlockRange(from: Pointer, to: Pointer): Promise<E[]> {
    const rows = this.#range.all({
      ingestor: this.ingestor,
      from,
      to,
      ...(await this.#visibility()),
    }) as unknown as EntryRow[];
    return rows.map((row) => this.#codec.decode(row.entry));
  }

  /** The external committed pointer as a statement parameter; none when it is joined from the commit table. */
  async #visibility(): Promise<{ committed?: Uint8Array | null }> {
    return this.#committed ? { committed: await this.#committed() } : {};
  }

  /** Writes what is pending, then closes the connection if this store opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.#connection.closed) return;
    await this.#batcher.drain();
    this.#connection.close();
  }
}
