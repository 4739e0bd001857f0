import type { HistoryCodec, LeaseLockOptions, Pointer, Visibility } from "@tidemark/core";
import type { MongoClient, ReadConcernLevel, WriteConcernSettings } from "mongodb";

/** What the committer and the lock share: where the documents live. */
export interface MongoConnectionOptions {
  /**
   * Your `MongoClient` (driver `mongodb` >= 6.22 < 8). The adapter never closes
   * it: the driver connects on first use, and you close it on shutdown.
   */
  readonly client: MongoClient;
  /** The database (default: the one named in the connection string, else the driver's default `test`). */
  readonly database?: string;
  /**
   * Write concern of every write (default `{ w: "majority" }`), so an
   * acknowledged commit or lock change survives a replica-set failover.
   */
  readonly writeConcern?: WriteConcernSettings;
  /**
   * Read concern of every read (default `"majority"`): what a node reads was
   * acknowledged by a majority and cannot be rolled back.
   */
  readonly readConcern?: ReadConcernLevel;
}

export interface MongoCommitterOptions extends MongoConnectionOptions {
  /** The collection of commit documents, one per ingestor (default `tidemark_commits`). */
  readonly collection?: string;
}

/** The shared lease options (`key`, `owner`, `leaseMs`, …; default lease 10 000 ms) plus the connection. */
export interface MongoLockOptions extends LeaseLockOptions, MongoConnectionOptions {
  /**
   * The collection of lease documents and token counters (default `tidemark_locks`).
   * Never drop it while a fleet runs: the fencing tokens live there.
   */
  readonly collection?: string;
}

export interface MongoHistoryStoreOptions<E> extends MongoConnectionOptions {
  /** Tells the store how to identify, index and serialise entries (e.g. `kinHistoryCodec` from `@tidemark/kin`). */
  readonly codec: HistoryCodec<E>;
  /**
   * The ingestor whose entries this store writes and reads (e.g. `history_KIN4`): the
   * first half of every document's `_id`, so several ingestors can share the collection.
   */
  readonly ingestor: string;
  /**
   * The committed pointer of `ingestor`, read before every read: only entries whose
   * block is at or below it are returned. Usually a committer's `latest`, e.g.
   * `(signal) => committer.latest("history_KIN4", { signal })`. Required
   * unless `visibility` is given instead.
   */
  readonly committed?: (signal?: AbortSignal) => Promise<Pointer | null>;
  /**
   * Instead of `committed`, when several ingestors commit parts of this
   * history (a backfill's partitions next to the live ingestor): which blocks
   * readers may see, read before every read (`visibilityOf` in
   * `@tidemark/core` builds it). With nothing hidden the filters are those of
   * `committed`; each hidden range adds one condition to a `$nor`.
   */
  readonly visibility?: (signal?: AbortSignal) => Promise<Visibility>;
  /** The collection of entries, one document per transaction (default `tidemark_history`). */
  readonly collection?: string;
  /**
   * Create the two secondary indexes on first use (default true); both are idempotent.
   * Turn it off when the application's user may not create indexes, and create
   * them ahead of time (see the README).
   */
  readonly createIndexes?: boolean;
  /**
   * Most documents per insert command (default 100). The writes of one turn of the
   * event loop beyond it go out as several commands at once, so that blocks written
   * concurrently keep their parallelism.
   */
  readonly batchSize?: number;
}
