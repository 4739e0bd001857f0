import type { Committer, DistributedLock, HistoryStore, Pointer } from "@tidemark/core";
import type { Entry } from "@tidemark/kin";

/** Where a history store reads the committed pointer that bounds what it shows. */
export type CommittedPointer = (signal?: AbortSignal) => Promise<Pointer | null>;

/** A backend for commits and locks, opened from a store URL. */
export interface Store {
  /** The URL without credentials, for logs and errors. */
  readonly label: string;
  readonly committer: Committer;
  /** A fresh lock for `key` (one per `run`). */
  createLock(key: string, options: { leaseMs?: number; owner: string }): DistributedLock;
  /**
   * This backend's Kin history store for `ingestor`, where the backend has
   * one (etcd has none). Its reads show what `committed` says is committed,
   * by default this backend's own pointer of `ingestor`.
   */
  openHistory?(ingestor: string, committed?: CommittedPointer): HistoryStore<Entry>;
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
