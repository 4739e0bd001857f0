import type { Committer, DistributedLock, HistoryCodec, Ingestor, Pointer, Writer } from "@tidemark/core";

/** Reads what the backend stores for an ingestor, bypassing the committer ("what is really there?"). */
export type RawPointerReader = (ingestor: string) => Promise<Uint8Array | null>;

export interface CommitterSuiteOptions {
  /**
   * A fresh committer (a new connection) on the shared backend. Called once or
   * more per test; every test uses its own random ingestor names.
   */
  readonly create: () => Committer | Promise<Committer>;
  /** Closes what `create` opened (connections); called after each test for each created committer. */
  readonly destroy?: (committer: Committer) => void | Promise<void>;
  /** Optional raw reader, so the kit checks what is stored, not only what `latest` says. */
  readonly readRaw?: RawPointerReader;
}

export interface LockSuiteOptions {
  /** A fresh lock instance (its own connection) for `key`. Every test uses its own random keys. */
  readonly create: (key: string) => DistributedLock | Promise<DistributedLock>;
  /** Closes what `create` opened; called after each test for each created lock (after `unlock`). */
  readonly destroy?: (lock: DistributedLock) => void | Promise<void>;
  /** Freeze a holder as a paused process would be: stop renewals and timers, send and release nothing. */
  readonly crash: (lock: DistributedLock) => void | Promise<void>;
  /** Take the lock away behind the holder's back (revoke its lease, delete its record). */
  readonly forceLoss: (key: string) => void | Promise<void>;
  /** The lease duration locks are created with, in ms. */
  readonly leaseMs: number;
  /** How often a holder renews, in ms. */
  readonly renewIntervalMs: number;
  /** How long a waiter may take to notice a released lock, in ms (a poll interval, or a watch's latency). */
  readonly pollIntervalMs: number;
  /**
   * When the holder last confirmed a renewal (performance.now() milliseconds),
   * if the lock can tell; otherwise the kit assumes it was one renewal interval
   * before the crash.
   */
  readonly lastRenewedAt?: (lock: DistributedLock) => number | null;
  /** A committer on the same backend for the fencing test (a fresh one per call). */
  readonly createCommitter: () => Committer | Promise<Committer>;
  readonly destroyCommitter?: (committer: Committer) => void | Promise<void>;
  /** Raw reader for the fencing test's "pointer unchanged" check. */
  readonly readRaw?: RawPointerReader;
}

export interface IngestorSuiteOptions<E> {
  /** A fresh ingestor. */
  readonly create: () => Ingestor<E> | Promise<Ingestor<E>>;
  readonly destroy?: (ingestor: Ingestor<E>) => void | Promise<void>;
  /** Tells the kit which block each written entry belongs to. */
  readonly codec: Pick<HistoryCodec<E>, "block" | "transactionId">;
  /** Where ingestion starts (default null: the chain's start). */
  readonly parent?: Pointer | null;
  /** How many results the test reads (default 10); the ingestor must produce at least that many. */
  readonly results?: number;
  /** The ingestor's result buffer bound (default 64). */
  readonly bound?: number;
  /** Blocks the ingestor may process beyond its buffer (its concurrency; default 8). */
  readonly inFlight?: number;
  /** Wraps the kit's recording writer, e.g. to also store entries (default: the recording writer itself). */
  readonly wrapWriter?: (writer: Writer<E>) => Writer<E>;
}
