import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from "@aws-sdk/client-dynamodb";
import {
  type AccountHistoryQuery,
  assertPointer,
  BackendUnavailableError,
  ConfigurationError,
  CorruptRecordError,
  comparePointers,
  type HistoryCodec,
  type HistoryStore,
  InvalidArgumentError,
  isVisible,
  type Pointer,
  raceAbort,
  reconcileEntries,
  type Visibility,
  type WriteOptions,
} from "@tidemark/core";
import { Coalescer } from "./coalescer.js";
import { errorName, mapDynamoError, type TableRef } from "./errors.js";
import { BATCH_GET_KEYS, BATCH_WRITE_ITEMS, batchReader, batchWriter } from "./history-batches.js";
import {
  ACCOUNT,
  accountItemKey,
  BLOCK_START,
  deleteOf,
  describeKey,
  ENTRY,
  entryBytes,
  HISTORY_PARTITION_BLOCKS,
  historyItemKey,
  historyTableRefs,
  type ItemWrite,
  itemId,
  itemSize,
  MAX_ITEM_BYTES,
  ORDERING_KEY,
  partitionOf,
  putOf,
  TX_HASH,
} from "./history-layout.js";
import {
  type BatchRetryOptions,
  DEFAULT_ACCOUNTS_TABLE,
  DEFAULT_HISTORY_TABLE,
  DEFAULT_TRANSACTIONS_TABLE,
  type DynamoDbHistoryStoreOptions,
} from "./options.js";
import { RequestPool } from "./request-pool.js";
import { checkTable } from "./tables.js";

/** One version of an entry with the account and history items that list it. */
interface Version<E> {
  readonly value: E;
  readonly bytes: Uint8Array;
  readonly items: readonly ItemWrite[];
}

/** How often one write may find its transaction changed under it before it gives up (and `run` retries it). */
const MAX_ROUNDS = 10;
/** DynamoDB's key size limits, in bytes. */
const MAX_HASH_KEY_BYTES = 2048;
const MAX_RANGE_KEY_BYTES = 1024;

/**
 * A history store in agora v0.2.7's DynamoDB layout (`tx-by-hash`,
 * `tx-by-account`, `tx-history`), so agora's Go readers read what it writes
 * and it reads what agora wrote. Reads follow the committed pointer: an entry
 * above it is invisible.
 */
export class DynamoDbHistoryStore<E> implements HistoryStore<E> {
  /** The three tables' names. */
  readonly tables: { readonly table: string; readonly accountTable: string; readonly historyTable: string };
  readonly #client: DynamoDBClient;
  readonly #codec: HistoryCodec<E>;
  readonly #visibility: (signal?: AbortSignal) => Promise<Visibility>;
  readonly #refs: ReturnType<typeof historyTableRefs>;
  readonly #globalHistory: ((entry: E) => bigint | null) | undefined;
  readonly #blockOfPointer: ((pointer: Pointer) => bigint) | undefined;
  readonly #orderingKeyOfBlock: ((block: bigint, edge: "first" | "last") => Uint8Array) | undefined;
  readonly #consistentRead: boolean;
  readonly #verifyTables: boolean;
  readonly #pool: RequestPool;
  readonly #itemWrites: Coalescer<ItemWrite, void>;
  readonly #reads: Coalescer<Uint8Array, Record<string, AttributeValue> | null>;
  readonly #writes = new Set<Promise<void>>();
  #verified: Promise<void> | null = null;
  #closed = false;

  constructor(options: DynamoDbHistoryStoreOptions<E>) {
    if (options?.client == null) throw new InvalidArgumentError("dynamodb history store: options.client is required");
    if (options.codec == null) throw new InvalidArgumentError("dynamodb history store: options.codec is required");
    this.#visibility = visibilityOption(options);
    this.tables = {
      table: tableName(options.table ?? DEFAULT_TRANSACTIONS_TABLE, "table"),
      accountTable: tableName(options.accountTable ?? DEFAULT_ACCOUNTS_TABLE, "accountTable"),
      historyTable: tableName(options.historyTable ?? DEFAULT_HISTORY_TABLE, "historyTable"),
    };
    const concurrency = options.concurrency ?? 16;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new InvalidArgumentError(
        `dynamodb history store: concurrency must be a positive integer, got ${concurrency}`,
      );
    }
    const retry = checkRetry(options.retry ?? {});
    this.#client = options.client;
    this.#codec = options.codec;
    this.#refs = historyTableRefs(this.tables);
    this.#globalHistory = options.globalHistory;
    this.#blockOfPointer = options.blockOfPointer;
    this.#orderingKeyOfBlock = options.orderingKeyOfBlock;
    this.#consistentRead = options.consistentRead ?? true;
    this.#verifyTables = options.verifyTables ?? true;
    this.#pool = new RequestPool(concurrency);
    this.#itemWrites = new Coalescer(
      this.#pool,
      BATCH_WRITE_ITEMS,
      batchWriter(this.#client, this.#tablesInUse().slice(1), retry),
    );
    this.#reads = new Coalescer(this.#pool, BATCH_GET_KEYS, batchReader(this.#client, this.#refs.transactions, retry));
  }

  /**
   * Checks that the tables exist with agora's key schemas (the history table
   * only when `globalHistory` is set): a `ConfigurationError` naming the table
   * otherwise. Writes and reads run it once on their own unless
   * `verifyTables` is false.
   */
  async verify(signal?: AbortSignal): Promise<void> {
    for (const table of this.#tablesInUse()) await checkTable(this.#client, table, signal);
  }

  /**
   * Stores `entry` in agora's order: the transaction item first (a
   * conditional put, so a second write of the id is judged by the codec's
   * `reconcile`), then its account items and history item in batches. An
   * aborted signal before the first request writes nothing. A write that
   * fails or aborts later may leave a part of the entry behind; `run` never
   * commits its block then, so the part stays invisible until the block is
   * ingested again, which completes it.
   */
  write(entry: E, options: WriteOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(this.#closedError());
    let id: Uint8Array;
    let incoming: Version<E>;
    try {
      id = this.#codec.transactionId(entry);
      checkKey(id, "transaction id", MAX_HASH_KEY_BYTES);
      incoming = this.#version(entry, this.#codec.encode(entry));
      const size = itemSize({ [TX_HASH]: { B: id }, [ENTRY]: { B: incoming.bytes } });
      if (size > MAX_ITEM_BYTES) {
        throw new InvalidArgumentError(
          `dynamodb history store: the item of transaction ${hex(id)} for table "${this.tables.table}" would take ${size} bytes, more than DynamoDB's ${MAX_ITEM_BYTES}`,
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const done = this.#write(id, incoming, signal);
    this.#writes.add(done);
    const forget = () => this.#writes.delete(done);
    done.then(forget, forget);
    return done;
  }

  async #write(id: Uint8Array, incoming: Version<E>, signal: AbortSignal | undefined): Promise<void> {
    await this.#ready(signal);
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      let target: Version<E>;
      let stale: ItemWrite[] = [];
      if (await this.#insert(id, incoming, signal)) {
        target = incoming;
      } else {
        const stored = await this.#readStored(id, signal);
        // Deleted since the put failed: insert it afresh.
        if (stored === null) continue;
        if (reconcileEntries(this.#codec, stored.value, incoming.value, this.#where()) === "keep") {
          // The stored version stands; its items are written again in case an earlier write stopped half-way.
          target = stored;
        } else {
          stale = staleItems(stored, incoming);
          // Items only the old version has go first: should this write stop here, the transaction item still
          // holds the old version, and writing the entry again replaces it again, items and all.
          await this.#writeItems(stale, signal);
          if (!(await this.#overwrite(id, incoming, stored.bytes, signal))) continue;
          target = incoming;
        }
      }
      if (await this.#settleItems(id, target, stale, round, signal)) return;
    }
    throw this.#changing(id);
  }

  /**
   * Writes `target`'s items (and deletes `stale` ones), then reads the
   * transaction item back. Another writer may have replaced it meanwhile and
   * written its items before ours landed; then ours are brought in line with
   * what is stored now. False when the transaction item is gone.
   */
  async #settleItems(
    id: Uint8Array,
    target: Version<E>,
    stale: ItemWrite[],
    round: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    let current = target;
    let obsolete = stale;
    for (let check = round; check <= MAX_ROUNDS; check++) {
      await this.#writeItems([...current.items, ...obsolete], signal);
      const item = await this.#reads.submit(itemId(this.tables.table, { [TX_HASH]: { B: id } }), id, signal);
      if (item === null) return false;
      const bytes = entryBytes(item, this.tables.table);
      if (Buffer.from(bytes).equals(current.bytes)) return true;
      const next = this.#version(this.#decode(bytes, item, this.tables.table), bytes);
      obsolete = staleItems(current, next);
      current = next;
    }
    throw this.#changing(id);
  }

  async #writeItems(writes: readonly ItemWrite[], signal: AbortSignal | undefined): Promise<void> {
    await Promise.all(writes.map((write) => this.#itemWrites.submit(write.id, write, signal)));
  }

  /** agora's conditional put of the transaction item; false when the id is already stored. */
  async #insert(id: Uint8Array, version: Version<E>, signal: AbortSignal | undefined): Promise<boolean> {
    return this.#putTransaction(id, version, signal, {
      ConditionExpression: `attribute_not_exists(${TX_HASH})`,
    });
  }

  /** Replaces the stored version only if it is still `old`; false when another write changed it first. */
  async #overwrite(
    id: Uint8Array,
    version: Version<E>,
    old: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    return this.#putTransaction(id, version, signal, {
      ConditionExpression: "#entry = :old",
      ExpressionAttributeNames: { "#entry": ENTRY },
      ExpressionAttributeValues: { ":old": { B: old } },
    });
  }

  async #putTransaction(
    id: Uint8Array,
    version: Version<E>,
    signal: AbortSignal | undefined,
    condition: Pick<
      PutItemCommandInput,
      "ConditionExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues"
    >,
  ): Promise<boolean> {
    const command = new PutItemCommand({
      TableName: this.tables.table,
      Item: { [TX_HASH]: { B: id }, [ENTRY]: { B: version.bytes } },
      ...condition,
    });
    try {
      await this.#pool.run(signal, () => this.#client.send(command, { abortSignal: signal }));
      return true;
    } catch (error) {
      if (errorName(error) === "ConditionalCheckFailedException" && !signal?.aborted) return false;
      throw this.#map(error, "PutItem", [this.#refs.transactions], `transaction ${hex(id)}`, signal);
    }
  }

  async #readStored(id: Uint8Array, signal: AbortSignal | undefined): Promise<Version<E> | null> {
    const item = await this.#pool.run(signal, () => this.#getTransactionItem(id, true, signal));
    if (item === undefined) return null;
    const bytes = entryBytes(item, this.tables.table);
    return this.#version(this.#decode(bytes, item, this.tables.table), bytes);
  }

  async #getTransactionItem(
    id: Uint8Array,
    consistent: boolean,
    signal?: AbortSignal,
  ): Promise<Record<string, AttributeValue> | undefined> {
    const command = new GetItemCommand({
      TableName: this.tables.table,
      Key: { [TX_HASH]: { B: id } },
      ConsistentRead: consistent,
    });
    try {
      const output = await this.#client.send(command, { abortSignal: signal });
      return output.Item;
    } catch (error) {
      throw this.#map(error, "GetItem", [this.#refs.transactions], `transaction ${hex(id)}`, signal);
    }
  }

  async getTransaction(id: Uint8Array): Promise<E | null> {
    this.#assertOpen();
    checkKey(id, "transaction id", MAX_HASH_KEY_BYTES);
    await this.#ready();
    const [item, visibility] = await Promise.all([
      this.#getTransactionItem(id, this.#consistentRead),
      this.#visibility(),
    ]);
    if (item === undefined || visibility.upTo === null) return null;
    const entry = this.#decode(entryBytes(item, this.tables.table), item, this.tables.table);
    return this.#visible(entry, visibility) ? entry : null;
  }

  /**
   * A `Query` of the account's items in ordering-key order, paged until
   * `limit` visible entries are found. Invisible entries (above the committed
   * pointer, or in a hidden range) are skipped, not taken as the end:
   * ordering keys need not follow blocks.
   */
  async getAccountHistory(account: string, query: AccountHistoryQuery = {}): Promise<E[]> {
    this.#assertOpen();
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidArgumentError(`history query limit must be a positive integer, got ${limit}`);
    }
    const descending = query.order === "desc";
    const cursor = query.cursor;
    if (cursor !== undefined && cursor.length === 0 && descending) return [];
    await this.#ready();
    const visibility = await this.#visibility();
    if (visibility.upTo === null) return [];
    const names: Record<string, string> = { "#account": ACCOUNT };
    const values: Record<string, AttributeValue> = { ":account": { S: account } };
    let condition = "#account = :account";
    if (cursor !== undefined && cursor.length > 0) {
      condition += ` AND #key ${descending ? "<" : ">"} :cursor`;
      names["#key"] = ORDERING_KEY;
      values[":cursor"] = { B: cursor };
    }
    const found: E[] = [];
    await this.#query(
      {
        TableName: this.tables.accountTable,
        KeyConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: !descending,
      },
      this.#refs.accounts,
      `account ${JSON.stringify(account)}`,
      () => limit - found.length,
      (entry) => {
        if (this.#visible(entry, visibility)) found.push(entry);
        return found.length < limit;
      },
    );
    return found;
  }

  /**
   * Entries of blocks `from` to `to` from the history table, by partition
   * (agora's `GetTransactions`): only entries `globalHistory` lists are there.
   * Needs the `globalHistory` and `blockOfPointer` options.
   */
  async getBlockRange(from: Pointer, to: Pointer): Promise<E[]> {
    this.#assertOpen();
    assertPointer(from, "from");
    assertPointer(to, "to");
    const blockOf = this.#blockOfPointer;
    if (this.#globalHistory === undefined || blockOf === undefined) {
      throw new ConfigurationError(
        `dynamodb history store: getBlockRange reads table "${this.tables.historyTable}" and needs the globalHistory and blockOfPointer options`,
      );
    }
    if (comparePointers(from, to) > 0) return [];
    await this.#ready();
    const visibility = await this.#visibility();
    if (visibility.upTo === null) return [];
    const first = blockOf(from);
    // Partitions above the committed pointer cannot hold a visible entry.
    const last = min(blockOf(to), blockOf(visibility.upTo));
    if (first > last) return [];
    const found: { entry: E; key: Uint8Array }[] = [];
    for (let partition = partitionOf(first); partition <= last; partition += HISTORY_PARTITION_BLOCKS) {
      const values: Record<string, AttributeValue> = { ":block_start": { N: partition.toString() } };
      let condition = "#block = :block_start";
      const keyOf = this.#orderingKeyOfBlock;
      if (keyOf !== undefined) {
        const low = keyOf(max(first, partition), "first");
        const high = keyOf(min(last, partition + HISTORY_PARTITION_BLOCKS - 1n), "last");
        if (Buffer.compare(low, high) > 0) continue;
        condition += " AND #key BETWEEN :from AND :to";
        values[":from"] = { B: low };
        values[":to"] = { B: high };
      }
      await this.#query(
        {
          TableName: this.tables.historyTable,
          KeyConditionExpression: condition,
          ExpressionAttributeNames: { "#block": BLOCK_START, ...(keyOf ? { "#key": ORDERING_KEY } : {}) },
          ExpressionAttributeValues: values,
          ScanIndexForward: true,
        },
        this.#refs.history,
        `partition ${partition}`,
        () => 1000,
        (entry, item) => {
          const block = this.#codec.block(entry);
          if (
            comparePointers(block, from) >= 0 &&
            comparePointers(block, to) <= 0 &&
            this.#visible(entry, visibility)
          ) {
            found.push({ entry, key: item[ORDERING_KEY]?.B ?? new Uint8Array(0) });
          }
          return true;
        },
      );
    }
    // Partitions in block order and keys within them; sorted anyway, as the contract is ordering-key order.
    found.sort((a, b) => Buffer.compare(a.key, b.key));
    return found.map(({ entry }) => entry);
  }

  /** Pages a query, handing each decoded entry to `take` until it returns false or the items run out. */
  async #query(
    input: QueryCommandInput,
    table: TableRef,
    subject: string,
    pageSize: () => number,
    take: (entry: E, item: Record<string, AttributeValue>) => boolean,
  ): Promise<void> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      let output: QueryCommandOutput;
      try {
        output = await this.#client.send(
          new QueryCommand({
            ...input,
            ConsistentRead: this.#consistentRead,
            Limit: pageSize(),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
      } catch (error) {
        throw this.#map(error, "Query", [table], subject);
      }
      for (const item of output.Items ?? []) {
        if (!take(this.#decode(entryBytes(item, table.name), item, table.name), item)) return;
      }
      start = output.LastEvaluatedKey;
    } while (start !== undefined);
  }

  /** Waits for the writes in flight, then refuses new calls. The client is the caller's and stays open. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#writes]);
  }

  #version(value: E, bytes: Uint8Array): Version<E> {
    const key = this.#codec.orderingKey(value);
    checkKey(key, "ordering key", MAX_RANGE_KEY_BYTES);
    const items: ItemWrite[] = [];
    for (const account of new Set(this.#codec.accounts(value))) {
      if (typeof account !== "string" || account.length === 0 || Buffer.byteLength(account) > MAX_HASH_KEY_BYTES) {
        throw new InvalidArgumentError(
          `dynamodb history store: account ${JSON.stringify(account)} of an entry is not a string of 1 to ${MAX_HASH_KEY_BYTES} bytes`,
        );
      }
      items.push(putOf(this.tables.accountTable, accountItemKey(account, key), bytes));
    }
    const block = this.#globalHistory?.(value) ?? null;
    if (block !== null) {
      if (typeof block !== "bigint" || block < 0n) {
        throw new InvalidArgumentError(
          `dynamodb history store: globalHistory must return a non-negative bigint or null, got ${String(block)}`,
        );
      }
      items.push(putOf(this.tables.historyTable, historyItemKey(block, key), bytes));
    }
    // Checked before anything is sent: an account item that DynamoDB refuses after the transaction item went in would leave half an entry.
    for (const { table, request } of items) {
      const size = itemSize(request.PutRequest?.Item ?? {});
      if (size > MAX_ITEM_BYTES) {
        throw new InvalidArgumentError(
          `dynamodb history store: an item of the entry for table "${table}" would take ${size} bytes, more than DynamoDB's ${MAX_ITEM_BYTES}`,
        );
      }
    }
    return { value, bytes, items };
  }

  #decode(bytes: Uint8Array, item: Record<string, AttributeValue>, table: string): E {
    try {
      return this.#codec.decode(bytes);
    } catch (error) {
      throw new CorruptRecordError(
        `dynamodb history store: item ${describeKey(item)} in table "${table}" holds an entry that does not decode (${(error as Error)?.message ?? String(error)})`,
        { cause: error },
      );
    }
  }

  /** Compared in memory with core's `comparePointers`: unsigned bytes, a shorter prefix first, as pointers order. */
  #visible(entry: E, visibility: Visibility): boolean {
    return isVisible(visibility, this.#codec.block(entry));
  }

  #ready(signal?: AbortSignal): Promise<void> {
    if (!this.#verifyTables) return Promise.resolve();
    if (this.#verified === null) {
      const verified = this.verify();
      // A failure is not remembered: the operator may create the table, or the network come back.
      verified.catch(() => {
        if (this.#verified === verified) this.#verified = null;
      });
      this.#verified = verified;
    }
    return signal ? raceAbort(this.#verified, signal) : this.#verified;
  }

  #tablesInUse(): TableRef[] {
    const { transactions, accounts, history } = this.#refs;
    return this.#globalHistory === undefined ? [transactions, accounts] : [transactions, accounts, history];
  }

  #where(): string {
    return `dynamodb history store (table "${this.tables.table}")`;
  }

  #changing(id: Uint8Array): BackendUnavailableError {
    return new BackendUnavailableError(
      `dynamodb history store: transaction ${hex(id)} in table "${this.tables.table}" changed under this write ${MAX_ROUNDS} times; try again`,
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): InvalidArgumentError {
    return new InvalidArgumentError(`dynamodb history store on table "${this.tables.table}": used after close()`);
  }

  #map(error: unknown, operation: string, tables: TableRef[], subject: string, signal?: AbortSignal): unknown {
    return mapDynamoError(error, { operation, tables, subject, signal });
  }
}

/** Where reads learn what is visible: `visibility`, or `committed` as a visibility that hides nothing more. */
function visibilityOption<E>(options: DynamoDbHistoryStoreOptions<E>): (signal?: AbortSignal) => Promise<Visibility> {
  const { committed, visibility } = options;
  if (committed !== undefined && visibility !== undefined) {
    throw new InvalidArgumentError("dynamodb history store: give options.committed or options.visibility, not both");
  }
  if (visibility !== undefined) {
    if (typeof visibility !== "function") {
      throw new InvalidArgumentError("dynamodb history store: options.visibility must be a function");
    }
    return visibility;
  }
  if (typeof committed !== "function") {
    throw new InvalidArgumentError("dynamodb history store: options.committed must be a function");
  }
  return async (signal) => ({ upTo: await committed(signal), hidden: [] });
}

/** The items of `from` that `to` does not have, as deletes. */
function staleItems<E>(from: Version<E>, to: Version<E>): ItemWrite[] {
  const kept = new Set(to.items.map((item) => item.id));
  return from.items.filter((item) => !kept.has(item.id)).map(deleteOf);
}

function checkKey(key: unknown, what: string, maxBytes: number): void {
  if (!(key instanceof Uint8Array) || key.length === 0 || key.length > maxBytes) {
    throw new InvalidArgumentError(
      `dynamodb history store: the ${what} must be a Uint8Array of 1 to ${maxBytes} bytes, got ${key instanceof Uint8Array ? `${key.length} bytes` : typeof key}`,
    );
  }
}

function checkRetry(retry: BatchRetryOptions): BatchRetryOptions {
  for (const [name, value] of Object.entries(retry)) {
    if (value !== undefined && (!Number.isInteger(value) || value < (name === "maxAttempts" ? 1 : 0))) {
      throw new InvalidArgumentError(
        `dynamodb history store: retry.${name} must be a non-negative integer, got ${value}`,
      );
    }
  }
  return retry;
}

function tableName(name: unknown, option: string): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(`dynamodb history store: ${option} must be a non-empty string`);
  }
  return name;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
