import type { LeaseLockOptions } from "@tidemark/core";
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
