import {
  type AccountHistoryQuery,
  assertIngestorName,
  assertPointer,
  type HistoryCodec,
  type HistoryStore,
  InvalidArgumentError,
  limitHidden,
  type Pointer,
  type Visibility,
  type WriteOptions,
} from "@tidemark/core";
import { accountHistorySql } from "./account-history-sql.js";
import { type Connection, connect } from "./connection.js";
import { mapPgError } from "./errors.js";
import { hiddenRangesSql, MAX_HIDDEN_RANGES } from "./hidden-ranges-sql.js";
import type { PostgresHistoryStoreOptions } from "./history-options.js";
import { checkHistorySchema, createHistorySchema, historyTables } from "./history-schema.js";
import type { HistoryRow } from "./history-statements.js";
import { decodeStored, HistoryWriter } from "./history-writes.js";
import { quoteTable } from "./identifiers.js";
import { checkCommitsTable, DEFAULT_COMMITS_TABLE } from "./schema.js";

const DEFAULT_BATCH_SIZE = 100;
const DEFAULT_LIMIT = 100;

interface StoredRow {
  tx_id: Buffer;
  entry: Buffer;
}

/**
 * Ingested entries in PostgreSQL: an entry table keyed by (ingestor,
 * transaction id) and an account index. Writes are idempotent and batched per
 * turn of the event loop; every read compares with the committed pointer in
 * the same statement (or with `committed()`), so a block written but not yet
 * committed stays invisible.
 */
export class PostgresHistoryStore<E> implements HistoryStore<E> {
  readonly ingestor: string;
  /** The entry table as given (e.g. `tidemark_history`). */
  readonly table: string;
  readonly #codec: HistoryCodec<E>;
  readonly #connection: Connection;
  readonly #subject: string;
  readonly #history: string;
  readonly #accounts: string;
  readonly #commits: string;
  readonly #commitTable: string;
  readonly #visibility: ((signal?: AbortSignal) => Promise<Visibility>) | undefined;
  readonly #createTables: boolean;
  readonly #writer: HistoryWriter<E>;
  readonly #tableNames: { readonly table: string; readonly accountTable: string };
  #ready: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: PostgresHistoryStoreOptions<E>) {
    if (options?.codec == null) throw new InvalidArgumentError("postgres history store: options.codec is required");
    if (options.committed !== undefined && typeof options.committed !== "function") {
      throw new InvalidArgumentError("postgres history store: options.committed must be a function");
    }
    if (options.visibility !== undefined && typeof options.visibility !== "function") {
      throw new InvalidArgumentError("postgres history store: options.visibility must be a function");
    }
    if (options.committed !== undefined && options.visibility !== undefined) {
      throw new InvalidArgumentError("postgres history store: give options.committed or options.visibility, not both");
    }
    assertIngestorName(options.ingestor);
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InvalidArgumentError(`postgres history store: batchSize must be a positive integer, got ${batchSize}`);
    }
    const tables = historyTables(options);
    this.#commitTable = options.commitTable ?? DEFAULT_COMMITS_TABLE;
    this.#commits = quoteTable(this.#commitTable, "commit table");
    this.ingestor = options.ingestor;
    this.table = tables.table;
    this.#codec = options.codec;
    this.#history = tables.history;
    this.#accounts = tables.accounts;
    const { committed } = options;
    this.#visibility =
      options.visibility ?? (committed && (async (signal) => ({ upTo: await committed(signal), hidden: [] })));
    this.#createTables = options.createTables ?? true;
    this.#connection = connect(options, "history store");
    if (this.#connection.owned) {
      // An idle connection the server drops is reported on the pool; the next query reconnects.
      this.#connection.pool.on("error", () => {});
    }
    this.#subject = `postgres history store (${this.#connection.label}) on table "${this.table}"`;
    this.#writer = new HistoryWriter({
      codec: this.#codec,
      pool: this.#connection.pool,
      ingestor: this.ingestor,
      history: this.#history,
      accounts: this.#accounts,
      table: this.table,
      subject: this.#subject,
      ready: () => this.ensureSchema(),
      batchSize,
    });
    this.#tableNames = { table: tables.table, accountTable: tables.accountTable };
  }

  /**
   * Creates the history tables when missing (unless `createTables` is false),
   * checks their shape and, without `committed`, that the commit table
   * exists. The first write or read does it anyway; call it at start-up to
   * fail early. A failure is not remembered: the next call tries again.
   */
  ensureSchema(): Promise<void> {
    if (this.#ready === null) {
      const ready = this.#prepare();
      this.#ready = ready;
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = null;
      });
    }
    return this.#ready;
  }

  async #prepare(): Promise<void> {
    const { pool } = this.#connection;
    if (this.#createTables) await createHistorySchema(pool, this.#tableNames);
    else await checkHistorySchema(pool, this.#tableNames);
    if (this.#visibility === undefined) await checkCommitsTable(pool, this.#commitTable, this.#subject);
  }

  /**
   * Stores `entry` unless its transaction is already stored; a stored one is
   * judged by the codec (`reconcile`): kept, replaced, or `DoubleInsertError`.
   * Writes of the same turn of the event loop go to the server together, as
   * multi-row INSERT statements of at most `batchSize` entries. A write whose
   * signal is aborted before that is never sent and rejects with the reason.
   */
  write(entry: E, options: WriteOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closing !== null) return Promise.reject(this.#closedError("write"));
    let row: HistoryRow;
    try {
      row = this.#row(entry);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#writer.write(entry, row, signal);
  }

  async getTransaction(id: Uint8Array): Promise<E | null> {
    if (!(id instanceof Uint8Array) || id.length === 0) {
      throw new InvalidArgumentError("postgres history store: a transaction id must be a non-empty Uint8Array");
    }
    const rows = await this.#read(
      `reading entry ${Buffer.from(id).toString("hex")}`,
      (upTo, hidden) =>
        `SELECT tx_id, entry FROM ${this.#history} WHERE ingestor = $1 AND tx_id = $2 AND block <= ${upTo}${hidden("block")}`,
      [this.ingestor, id],
    );
    const [row] = rows;
    return row === undefined ? null : this.#decode(row);
  }

  async getAccountHistory(account: string, query: AccountHistoryQuery = {}): Promise<E[]> {
    if (typeof account !== "string") throw new InvalidArgumentError("postgres history store: account must be a string");
    const limit = query.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`postgres history store: limit must be a positive integer, got ${limit}`);
    }
    if (query.cursor !== undefined && !(query.cursor instanceof Uint8Array)) {
      throw new InvalidArgumentError("postgres history store: cursor must be an ordering key (a Uint8Array)");
    }
    const order = query.order === "desc" ? "DESC" : "ASC";
    const withCursor = query.cursor !== undefined;
    const values: unknown[] = [this.ingestor, account, limit];
    if (withCursor) values.push(query.cursor);
    const rows = await this.#read(
      `reading the history of account ${JSON.stringify(account)}`,
      (committed, hidden) =>
        accountHistorySql({
          history: this.#history,
          accounts: this.#accounts,
          committed,
          hidden: hidden("h.block"),
          order,
          withCursor,
        }),
      values,
    );
    return rows.map((row) => this.#decode(row));
  }

  async getBlockRange(from: Pointer, to: Pointer): Promise<E[]> {
    assertPointer(from, "from");
    assertPointer(to, "to");
    const rows = await this.#read(
      `reading blocks ${Buffer.from(from).toString("hex")}..${Buffer.from(to).toString("hex")}`,
      (upTo, hidden) => `SELECT tx_id, entry FROM ${this.#history}
        WHERE ingestor = $1 AND block >= $2 AND block <= $3 AND block <= ${upTo}${hidden("block")}
        ORDER BY ordering_key, tx_id`,
      [this.ingestor, from, to],
    );
    return rows.map((row) => this.#decode(row));
  }

  /** Sends pending writes and waits for them, then ends the pool if the store opened it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#writer.drain();
      if (this.#connection.owned) await this.#connection.pool.end();
    })();
    return this.#closing;
  }

  /**
   * Runs a read whose visibility bound is `upTo`: the commit table's `latest`
   * in the same statement, or the pointer `visibility()` gave as a parameter,
   * its hidden ranges (if any) as conditions with parameters of their own.
   */
  async #read(
    what: string,
    sql: (upTo: string, hidden: (column: string) => string) => string,
    values: unknown[],
  ): Promise<StoredRow[]> {
    if (this.#closing !== null) throw this.#closedError(what);
    let upTo = `(SELECT latest FROM ${this.#commits} WHERE ingestor = $1)`;
    let hidden = (_column: string) => "";
    const params = [...values];
    if (this.#visibility !== undefined) {
      const [read] = await Promise.all([this.#visibility(), this.ensureSchema()]);
      // Each hidden range is a condition and two parameters: beyond a few hundred, the bound drops instead.
      const visibility = limitHidden(read, MAX_HIDDEN_RANGES);
      const committed = visibility.upTo;
      if (committed === null) return [];
      assertPointer(committed, "postgres history store: the committed pointer");
      params.push(committed);
      upTo = `$${params.length}`;
      if (visibility.hidden.length > 0) hidden = hiddenRangesSql(visibility.hidden, committed, params, this.#subject);
    } else {
      await this.ensureSchema();
    }
    try {
      const result = await this.#connection.pool.query<StoredRow>(sql(upTo, hidden), params);
      return result.rows;
    } catch (error) {
      throw mapPgError(error, `${this.#subject}, ${what} of "${this.ingestor}"`);
    }
  }

  #decode(row: StoredRow): E {
    const what = `history entry ${row.tx_id.toString("hex")} of "${this.ingestor}" in table "${this.table}"`;
    return decodeStored(this.#codec, row.entry, what);
  }

  /** The stored form of `entry`; what the codec got wrong is `InvalidArgumentError`, failing this write only. */
  #row(entry: E): HistoryRow {
    const codec = this.#codec;
    const id = codec.transactionId(entry);
    if (!(id instanceof Uint8Array) || id.length === 0) {
      throw new InvalidArgumentError(
        "postgres history store: the codec's transactionId must be a non-empty Uint8Array",
      );
    }
    const block = codec.block(entry);
    assertPointer(block, "postgres history store: the codec's block");
    const key = codec.orderingKey(entry);
    if (!(key instanceof Uint8Array)) {
      throw new InvalidArgumentError("postgres history store: the codec's orderingKey must be a Uint8Array");
    }
    const accounts = [...new Set(codec.accounts(entry))];
    for (const account of accounts) {
      if (typeof account !== "string") {
        throw new InvalidArgumentError(`postgres history store: accounts must be strings, got a ${typeof account}`);
      }
    }
    // Copies of the small fields (a caller may reuse its arrays before the batch is sent); the codec's
    // fresh encoding as it is, as entries may be megabytes.
    const bytes = codec.encode(entry);
    return {
      id: Buffer.from(id),
      block: Buffer.from(block),
      key: Buffer.from(key),
      bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      accounts,
    };
  }

  #closedError(call: string): InvalidArgumentError {
    return new InvalidArgumentError(`${this.#subject}: ${call} after close()`);
  }
}
