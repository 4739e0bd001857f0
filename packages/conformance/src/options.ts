import type { Committer, DistributedLock, HistoryCodec, HistoryStore, Ingestor, Pointer, Writer } from "@tidemark/core";
import type { KitEntry } from "./kit-entries.js";

/** Reads what the backend stores for an ingestor, bypassing the committer ("what is really there?"). */
export type RawPointerReader = (ingestor: string) => Promise<Uint8Array | null>;

export interface CommitterSuiteOptions {
  /**
   * A fresh committer (a new connection) on the shared backend. Called once or
   * more per test; every test uses its own random ingestor names.
   */
  readonly create: () => Committer | Promise<Committer>;
  /**
   * Cleans up what the test created besides the committer (a client it passed
   * in); the kit itself calls `close()` on every committer after each test.
   */
  readonly destroy?: (committer: Committer) => void | Promise<void>;
  /** Optional raw reader, so the kit checks what is stored, not only what `latest` says. */
  readonly readRaw?: RawPointerReader;
  /**
   * Arms a fault: the next request `committer` sends about `ingestor` reaches
   * the backend and is applied, but its answer is lost (a dropped connection,
   * a timeout, a 5xx). Backends where an answer cannot be lost (an embedded
   * database) leave it out, and the ambiguous-commit case does not run for them.
   * Resolves with a function that tells, afterwards, whether an answer really
   * was lost, so the case cannot pass with a fault that never fired.
   */
  readonly loseNextAnswer?: (committer: Committer, ingestor: string) => (() => boolean) | Promise<() => boolean>;
}

export interface LockSuiteOptions {
  /** A fresh lock instance (its own connection) for `key`. Every test uses its own random keys. */
  readonly create: (key: string) => DistributedLock | Promise<DistributedLock>;
  /**
   * Cleans up what the test created besides the lock (a client, a proxy); the
   * kit itself calls `close()` on every lock after each test.
   */
  readonly destroy?: (lock: DistributedLock) => void | Promise<void>;
  /** Freeze a holder as a paused process would be: stop renewals and timers, send and release nothing. */
  readonly crash: (lock: DistributedLock) => void | Promise<void>;
  /**
   * Take the lock away behind the holder's back (revoke its lease, delete or
   * release its record). Where tokens live in the lock record itself (the
   * DynamoDB layout), mark it released rather than delete it, so the token
   * history survives, as it would for an operator's release.
   */
  readonly forceLoss: (key: string) => void | Promise<void>;
  /**
   * Cuts `lock` off from the backend while its process stays alive (a
   * partition, a dead connection that is not closed); resolves with a function
   * that heals it. Other locks must still reach the backend where the backend
   * allows it (an embedded file cannot be cut off for one connection only).
   */
  readonly cutOff: (lock: DistributedLock) => Promise<() => void | Promise<void>> | (() => void | Promise<void>);
  /** The lease duration locks are created with, in ms. */
  readonly leaseMs: number;
  /** How often a holder renews, in ms. */
  readonly heartbeatMs: number;
  /** How long a waiter may take to notice a released lock, in ms (a poll interval, or a watch's latency). */
  readonly pollMs: number;
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

export interface HistoryStoreSuiteOptions {
  /**
   * A fresh store (a new connection) on the shared backend for `ingestor`,
   * with the kit's codec. Its reads must follow the committed pointer of
   * `ingestor` as `commit` moves it.
   */
  readonly create: (context: {
    readonly ingestor: string;
    readonly codec: HistoryCodec<KitEntry>;
  }) => HistoryStore<KitEntry> | Promise<HistoryStore<KitEntry>>;
  /** Moves the committed pointer of `ingestor` to `block` (with the backend's committer, say `reset`). */
  readonly commit: (ingestor: string, block: Pointer) => Promise<void>;
  /** Cleans up what the test created besides the store; the kit calls `close()` itself. */
  readonly destroy?: (store: HistoryStore<KitEntry>) => void | Promise<void>;
  /** The largest encoded entry the backend stores, in bytes (default 64 KiB). */
  readonly largestEntryBytes?: number;
  /** How many accounts the wide entry is listed under: more than one backend request holds (default 60). */
  readonly manyAccounts?: number;
}
