import {
  BackendUnavailableError,
  CorruptRecordError,
  DoubleInsertError,
  type HistoryCodec,
  isTidemarkError,
  type PendingWrite,
  reconcileEntries,
  TidemarkError,
  TurnBatcher,
} from "@tidemark/core";
import type pg from "pg";
import { mapPgError } from "./errors.js";
import { type HistoryRow, insertAccounts, insertRows, MAX_PARAMETERS, parametersOf } from "./history-statements.js";
import { inTransaction } from "./history-transaction.js";

/** What the writer needs of its store. */
export interface HistoryWriterContext<E> {
  readonly codec: HistoryCodec<E>;
  readonly pool: pg.Pool;
  readonly ingestor: string;
  /** Quoted table names. */
  readonly history: string;
  readonly accounts: string;
  /** The entry table as given, for messages. */
  readonly table: string;
  /** Names the store in errors (`postgres history store (host:port/db) on table "…"`). */
  readonly subject: string;
  /** Resolves once the tables were created or checked. */
  readonly ready: () => Promise<void>;
  /** Most entries per INSERT. */
  readonly batchSize: number;
}

/** What one write asks for: the entry and the row it becomes. */
interface Write<E> {
  readonly entry: E;
  readonly row: HistoryRow;
}

/** The transaction id of a write, as a map key. */
function hexOf(write: PendingWrite<Write<unknown>>): string {
  return write.value.row.id.toString("hex");
}

/** Most bytes of entries per INSERT (a larger entry goes alone). */
const MAX_STATEMENT_BYTES = 16 * 1024 * 1024;
/** How often a statement that lost a deadlock (40P01) is tried again before the writes reject. */
const DEADLOCK_ATTEMPTS = 3;

/**
 * Batches the writes of one turn of the event loop into multi-row INSERT
 * statements (one per `batchSize` entries, sent at once). A transaction
 * already stored is judged afterwards, with the others of its batch, in one
 * transaction that locks the stored rows: kept, replaced, or refused alone.
 */
export class HistoryWriter<E> {
  readonly #context: HistoryWriterContext<E>;
  readonly #batcher: TurnBatcher<Write<E>>;

  constructor(context: HistoryWriterContext<E>) {
    this.#context = context;
    this.#batcher = new TurnBatcher<Write<E>>({
      send: (batch) => this.#send(batch),
      split: (writes) => this.#chunks(writes),
    });
  }

  write(entry: E, row: HistoryRow, signal: AbortSignal | undefined): Promise<void> {
    return this.#batcher.submit({ entry, row }, signal);
  }

  /** Sends what is pending now, without waiting for the end of the turn. */
  flush(): void {
    this.#batcher.flush();
  }

  /** Sends what is pending and waits until every batch sent has settled. */
  drain(): Promise<void> {
    return this.#batcher.drain();
  }

  /** Statements of at most `batchSize` entries, `MAX_PARAMETERS` parameters and `MAX_STATEMENT_BYTES`. */
  *#chunks(writes: PendingWrite<Write<E>>[]): Generator<PendingWrite<Write<E>>[]> {
    let chunk: PendingWrite<Write<E>>[] = [];
    let parameters = 1;
    let bytes = 0;
    for (const write of writes) {
      const needs = parametersOf(write.value.row);
      if (
        chunk.length > 0 &&
        (chunk.length >= this.#context.batchSize ||
          parameters + needs > MAX_PARAMETERS ||
          bytes + write.value.row.bytes.length > MAX_STATEMENT_BYTES)
      ) {
        yield chunk;
        chunk = [];
        parameters = 1;
        bytes = 0;
      }
      chunk.push(write);
      parameters += needs;
      bytes += write.value.row.bytes.length;
    }
    if (chunk.length > 0) yield chunk;
  }

  /** Never rejects: every write of the chunk is settled. */
  async #send(chunk: PendingWrite<Write<E>>[]): Promise<void> {
    const { pool, history, accounts, ingestor, subject } = this.#context;
    try {
      await this.#context.ready();
    } catch (error) {
      for (const write of chunk) write.fail(error);
      return;
    }
    // Aborted while the tables were being checked (on first use): still never sent.
    const batch = chunk.filter((write) => !write.settled);
    if (batch.length === 0) return;
    // The first write of each transaction goes into the INSERT; later ones of the same batch are judged after it.
    const first = new Map<string, PendingWrite<Write<E>>>();
    const again: PendingWrite<Write<E>>[] = [];
    for (const write of batch) {
      if (first.has(hexOf(write))) again.push(write);
      else first.set(hexOf(write), write);
    }
    const sorted = [...first.values()].sort((a, b) => Buffer.compare(a.value.row.id, b.value.row.id));
    let inserted: Set<string>;
    try {
      const statement = insertRows(
        history,
        accounts,
        ingestor,
        sorted.map((write) => write.value.row),
      );
      const result = await this.#retryDeadlocks(() => pool.query<{ tx_id: Buffer }>(statement));
      inserted = new Set(result.rows.map((row) => row.tx_id.toString("hex")));
    } catch (error) {
      const failure = mapPgError(error, `${subject}, inserting ${sorted.length} entries`);
      for (const write of batch) write.fail(failure);
      return;
    }
    const stored: PendingWrite<Write<E>>[] = [];
    for (const write of sorted) {
      if (inserted.has(hexOf(write))) write.done();
      else stored.push(write);
    }
    stored.push(...again);
    if (stored.length > 0) await this.#settleStored(stored);
  }

  /**
   * Judges writes of transactions already stored, in one transaction that
   * locks their rows (in id order), so a concurrent replacement is waited for
   * and judged, never overwritten. Each write gets its own outcome; a failed
   * statement fails them all and changes nothing.
   */
  async #settleStored(writes: PendingWrite<Write<E>>[]): Promise<void> {
    const { pool, subject } = this.#context;
    let outcomes: Map<PendingWrite<Write<E>>, unknown>;
    try {
      outcomes = await this.#retryDeadlocks(() =>
        inTransaction(pool, `${subject}, settling ${writes.length} entries already stored`, (client) =>
          this.#judge(client, writes),
        ),
      );
    } catch (error) {
      for (const write of writes) write.fail(error);
      return;
    }
    for (const write of writes) {
      const outcome = outcomes.get(write);
      if (outcome === undefined) write.done();
      else write.fail(outcome);
    }
  }

  /** The outcome of every write that does not land as asked (`undefined`: it did). */
  async #judge(client: pg.PoolClient, writes: PendingWrite<Write<E>>[]): Promise<Map<PendingWrite<Write<E>>, unknown>> {
    const { codec, history, accounts, ingestor, table } = this.#context;
    const outcomes = new Map<PendingWrite<Write<E>>, unknown>();
    const ids = [...new Map(writes.map((write) => [hexOf(write), write.value.row.id])).values()].sort(Buffer.compare);
    const locked = await client.query<{ tx_id: Buffer; entry: Buffer }>(
      `SELECT tx_id, entry FROM ${history} WHERE ingestor = $1 AND tx_id IN (${ids.map((_, i) => `$${i + 2}`).join(", ")})
       ORDER BY tx_id FOR UPDATE`,
      [ingestor, ...ids],
    );
    // What is stored now per id, as this transaction changes it.
    const current = new Map<string, { bytes: Buffer; entry?: E }>();
    for (const row of locked.rows) current.set(row.tx_id.toString("hex"), { bytes: row.entry });
    for (const write of writes) {
      if (write.settled) continue;
      const what = `history entry ${hexOf(write)} of "${ingestor}" in table "${table}"`;
      const found = current.get(hexOf(write));
      if (found === undefined) {
        // Deleted since the INSERT found it (an operator's cleanup): insert it again, here.
        const result = await client.query(insertRows(history, accounts, ingestor, [write.value.row]));
        if (result.rowCount === 0 || result.rows.length === 0) {
          outcomes.set(
            write,
            new BackendUnavailableError(
              `postgres: ${what} changed under concurrent writers; nothing written, try again`,
            ),
          );
        } else {
          current.set(hexOf(write), { bytes: write.value.row.bytes, entry: write.value.entry });
        }
        continue;
      }
      let verdict: "keep" | "replace";
      try {
        found.entry ??= decodeStored(codec, found.bytes, what);
        verdict = reconcileEntries(codec, found.entry, write.value.entry, `postgres history store (table "${table}")`);
      } catch (error) {
        outcomes.set(
          write,
          isTidemarkError(error, DoubleInsertError)
            ? new DoubleInsertError(`postgres: ${what} not written: ${(error as Error).message}`, { cause: error })
            : error,
        );
        continue;
      }
      if (verdict === "keep") continue;
      const before = { key: codec.orderingKey(found.entry), accounts: [...new Set(codec.accounts(found.entry))] };
      const { row } = write.value;
      await client.query(
        `UPDATE ${history} SET block = $3, ordering_key = $4, entry = $5 WHERE ingestor = $1 AND tx_id = $2`,
        [ingestor, row.id, row.block, row.key, row.bytes],
      );
      // The old listing, found through the primary key by the stored entry's own accounts and key.
      await client.query(
        `DELETE FROM ${accounts} WHERE ingestor = $1 AND account = ANY($2::text[]) AND ordering_key = $3 AND tx_id = $4`,
        [ingestor, before.accounts, before.key, row.id],
      );
      if (row.accounts.length > 0) await client.query(insertAccounts(accounts, ingestor, row));
      current.set(hexOf(write), { bytes: row.bytes, entry: write.value.entry });
    }
    return outcomes;
  }

  /** Runs `attempt` again when PostgreSQL chose it as a deadlock's victim (it was rolled back whole). */
  async #retryDeadlocks<T>(attempt: () => Promise<T>): Promise<T> {
    for (let round = 1; ; round++) {
      try {
        return await attempt();
      } catch (error) {
        if (round >= DEADLOCK_ATTEMPTS || codeOf(error) !== "40P01") throw error;
      }
    }
  }
}

/** The SQLSTATE of a driver error, also once wrapped in a tidemark error. */
function codeOf(error: unknown): unknown {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (code !== undefined || !(current instanceof TidemarkError)) return code;
  }
  return undefined;
}

/** Decodes stored bytes; bytes the codec refuses are `CorruptRecordError` naming the table and id. */
export function decodeStored<E>(codec: HistoryCodec<E>, bytes: Buffer, what: string): E {
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw new CorruptRecordError(`postgres: ${what} does not decode: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  }
}
