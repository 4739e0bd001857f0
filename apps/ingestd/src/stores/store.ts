import type { Committer, DistributedLock, HistoryCodec, HistoryStore, Pointer, Visibility } from "@tidemark/core";
import type { Entry } from "@tidemark/kin";

/** Where a history store reads the committed pointer that bounds what it shows. */
export type CommittedPointer = (signal?: AbortSignal) => Promise<Pointer | null>;

/** Where a history store reads which blocks it shows when several ingestors commit parts of one history. */
export type VisibleBlocks = (signal?: AbortSignal) => Promise<Visibility>;

/** How a history store is opened: its Kin entries decoded (`Entry`) or as stored (`Uint8Array`). */
export interface HistoryOpenOptions<E extends Entry | Uint8Array> {
  /** Kin entries: `kinHistoryCodec`, or `storedKinHistoryCodec` to read them as stored. */
  readonly codec: HistoryCodec<E>;
  /** Where reads find the committed pointer; by default this backend's own pointer of the ingestor. */
  readonly committed?: CommittedPointer;
  /**
   * Instead of `committed`: which blocks reads show when a backfill's
   * partitions commit parts of the history next to the live ingestor.
   */
  readonly visibility?: VisibleBlocks;
}

/** A backend for commits and locks, opened from a store URL. */
export interface Store {
  /** The URL without credentials, for logs and errors. */
  readonly label: string;
  readonly committer: Committer;
  /** A fresh lock for `key` (one per `run`). */
  createLock(key: string, options: { leaseMs?: number; owner: string }): DistributedLock;
  /**
   * This backend's Kin history store for `ingestor`, where the backend has
   * one (etcd has none). Its reads show what `options.committed` says is
   * committed, or what `options.visibility` says is visible.
   */
  openHistory?<E extends Entry | Uint8Array>(ingestor: string, options: HistoryOpenOptions<E>): HistoryStore<E>;
  /** Creates the tables or indexes the backend needs, idempotently (`tidemark store init`). */
  init?(): Promise<void>;
  /** Closes every connection this store opened, locks included. */
  close(): Promise<void>;
}

/** Options every store understands. */
export interface StoreOptions {
  readonly leaseMs?: number;
  /** Read-only commands: never create a database, file, table or index; a missing one is an error. */
  readonly readOnly?: boolean;
  /** Where the URL came from (flag, variable or file key), for the errors that refuse it; default `--store`. */
  readonly field?: string;
}

export { redactUrl } from "./store-url.js";
