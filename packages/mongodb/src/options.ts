import type { MongoClient, ReadConcernLevel, WriteConcernSettings } from "mongodb";

/** What the committer and the lock share: where the documents live and how hard to try. */
export interface MongoConnectionOptions {
  /**
   * Your `MongoClient` (driver `mongodb` >= 6.22 < 8). The adapter never connects
   * or closes it: the driver connects on first use, and you close it on shutdown.
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
  /**
   * How many times an operation is tried while the server cannot be reached or
   * refuses the credentials, before it rejects with `ConfigurationError`
   * (default 3). Each try already waits the driver's `serverSelectionTimeoutMS`.
   */
  readonly connectAttempts?: number;
  /** Pause before the second try, doubling for each further one, in ms (default 1000). */
  readonly connectRetryMs?: number;
}

export interface MongoCommitterOptions extends MongoConnectionOptions {
  /** The collection of commit documents, one per ingestor (default `tidemark_commits`). */
  readonly collection?: string;
}

export interface MongoLockOptions extends MongoConnectionOptions {
  /** The lock's name; every node of one fleet uses the same key (e.g. `ingestor_history_kin4`). */
  readonly key: string;
  /**
   * The collection of lease documents and token counters (default `tidemark_locks`).
   * Never drop it while a fleet runs: the fencing tokens live there.
   */
  readonly collection?: string;
  /**
   * How long a holding lasts without a renewal, in ms (default 10 000). It is
   * written into the lease document; contenders wait for the duration they find there.
   */
  readonly leaseMs?: number;
  /** How often the holder renews, in ms (default `leaseMs / 4`). */
  readonly heartbeatMs?: number;
  /**
   * The holder aborts `lease.signal` once `leaseMs - safetyMarginMs` passed
   * without a confirmed renewal, in ms (default `leaseMs / 5`): the margin covers
   * clock-rate differences and the time the holder needs to stop.
   */
  readonly safetyMarginMs?: number;
  /** How long one renewal or its confirming read may take before it counts as failed, in ms (default `heartbeatMs`). */
  readonly renewTimeoutMs?: number;
  /** How often a waiting contender reads the lease document, in ms (default `min(1000, heartbeatMs)`). */
  readonly pollMs?: number;
  /**
   * Names this node in the lease document, for operators (default
   * `<hostname>:<pid>`); a random suffix makes every acquisition's owner id unique.
   */
  readonly owner?: string;
}
