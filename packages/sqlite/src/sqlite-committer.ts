import type { StatementSync } from "node:sqlite";
import {
  assertIngestorName,
  type CommitOptions,
  type Committer,
  CorruptRecordError,
  InvalidCommitError,
  type Lease,
  LockLostError,
  type Pointer,
  parentMismatch,
  pointerToHex,
  type ReadOptions,
  validateCommit,
  validateReset,
} from "@tidemark/core";
import {
  assertTableName,
  type Connection,
  connect,
  createsTables,
  type DatabaseSource,
  wrapBusy,
  wrapMissingTable,
} from "./database.js";
import { createCommitTable, defaultTables } from "./schema.js";

export interface SqliteCommitterOptions extends DatabaseSource {
  /** Table of commit pointers, one row per ingestor (default `tidemark_commits`). */
  readonly table?: string;
  /** Create the table if it is missing (default true; never with `readOnly`); otherwise a missing table is a `ConfigurationError`. */
  readonly createTables?: boolean;
}

interface CommitRow {
  latest: unknown;
  fence: number | bigint | null;
}

/**
 * Commit pointers in a SQLite table. Each commit is one conditional upsert,
 * atomic across processes sharing the file. Fencing raises a fence on the
 * commit row at acquisition (`fence`); a fenced commit must carry that token.
 */
export class SqliteCommitter implements Committer {
  readonly table: string;
  readonly #connection: Connection;
  readonly #commit: StatementSync;
  readonly #read: StatementSync;
  readonly #reset: StatementSync;
  readonly #insertIfAbsent: StatementSync;
  readonly #fence: StatementSync;

  constructor(options: SqliteCommitterOptions) {
    this.table = assertTableName(options.table ?? defaultTables.commits, "commit table");
    this.#connection = connect(options, "committer");
    const { db } = this.#connection;
    if (createsTables(options)) createCommitTable(db, this.table);
    try {
      // The first commit is accepted whatever its parent; later ones only on top of the stored pointer.
      this.#commit = db.prepare(`INSERT INTO ${this.table} (ingestor, latest) VALUES (:ingestor, :block)
        ON CONFLICT (ingestor) DO UPDATE SET latest = excluded.latest
        WHERE (latest IS NULL OR latest = :parent) AND (:fenced = 0 OR fence IS NULL OR fence IS :token)`);
      this.#read = db.prepare(`SELECT latest, fence FROM ${this.table} WHERE ingestor = :ingestor`);
      this.#reset = db.prepare(`UPDATE ${this.table} SET latest = :block
        WHERE ingestor = :ingestor AND latest IS :expected`);
      this.#insertIfAbsent = db.prepare(`INSERT INTO ${this.table} (ingestor, latest) VALUES (:ingestor, :block)
        ON CONFLICT (ingestor) DO UPDATE SET latest = excluded.latest WHERE latest IS NULL`);
      this.#fence = db.prepare(`INSERT INTO ${this.table} (ingestor, latest, fence) VALUES (:ingestor, NULL, :token)
        ON CONFLICT (ingestor) DO UPDATE SET fence = :token WHERE fence IS NULL OR fence < :token`);
    } catch (error) {
      this.#connection.close();
      throw wrapMissingTable(error, this.table, this.#connection.label);
    }
  }

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options: CommitOptions = {}): Promise<void> {
    validateCommit(ingestor, parent, block);
    options.signal?.throwIfAborted();
    const lease = options.lease;
    if (lease?.signal.aborted) {
      throw new LockLostError(`sqlite commit for "${ingestor}" rejected: the lease given with it was already lost`);
    }
    const token = lease?.token ?? null;
    // A lease without a token cannot prove it is the holding the fence was raised for.
    const fenced = lease === undefined ? 0 : 1;
    const { changes } = this.#run(() => this.#commit.run({ ingestor, block, parent: parent ?? null, token, fenced }));
    if (changes === 1) return;
    const row = this.#row(ingestor);
    if (lease !== undefined && row?.fence != null && (token === null || BigInt(row.fence) !== token)) {
      throw new LockLostError(
        `sqlite commit for "${ingestor}" rejected: lease token ${token} is not the current fence ${row.fence}`,
      );
    }
    throw parentMismatch(ingestor, parent, this.#pointer(ingestor, row));
  }

  async latest(ingestor: string, options: ReadOptions = {}): Promise<Pointer | null> {
    assertIngestorName(ingestor);
    options.signal?.throwIfAborted();
    return this.#pointer(ingestor, this.#row(ingestor));
  }

  async reset(ingestor: string, expected: Pointer | null, block: Pointer, options: ReadOptions = {}): Promise<void> {
    validateReset(ingestor, expected, block);
    options.signal?.throwIfAborted();
    const { changes } = this.#run(() =>
      expected === null
        ? this.#insertIfAbsent.run({ ingestor, block })
        : this.#reset.run({ ingestor, block, expected }),
    );
    if (changes === 1) return;
    const stored = this.#pointer(ingestor, this.#row(ingestor));
    throw new InvalidCommitError(
      `sqlite reset of "${ingestor}" rejected: expected ${pointerToHex(expected)}, stored ${pointerToHex(stored)}`,
    );
  }

  async fence(ingestor: string, lease: Lease, options: ReadOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (lease.token === null) return;
    const token = lease.token;
    this.#run(() => this.#fence.run({ ingestor, token }));
  }

  /** Closes the connection if this committer opened it. Idempotent. */
  async close(): Promise<void> {
    this.#connection.close();
  }

  #row(ingestor: string): CommitRow | undefined {
    return this.#run(() => this.#read.get({ ingestor }) as CommitRow | undefined);
  }

  #run<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw wrapBusy(error, `sqlite committer on table "${this.table}" (${this.#connection.label})`);
    }
  }

  #pointer(ingestor: string, row: CommitRow | undefined): Pointer | null {
    if (row === undefined || row.latest === null) return null;
    if (!(row.latest instanceof Uint8Array) || row.latest.length === 0) {
      throw new CorruptRecordError(
        `sqlite table "${this.table}" (${this.#connection.label}): "latest" of ingestor "${ingestor}" is not a non-empty BLOB`,
      );
    }
    return new Uint8Array(row.latest);
  }
}
