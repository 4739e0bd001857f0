import type { Committer, DistributedLock } from "@tidemark/core";

/** A backend for commits and locks, opened from a store URL. */
export interface Store {
  /** The URL without credentials, for logs and errors. */
  readonly label: string;
  readonly committer: Committer;
  /** A fresh lock for `key` (one per `run`). */
  createLock(key: string, options: { leaseMs?: number; owner: string }): DistributedLock;
  /** Closes every connection this store opened, locks included. */
  close(): Promise<void>;
}

/** Options every store understands. */
export interface StoreOptions {
  readonly leaseMs?: number;
}

/** Hides a password in a URL before it reaches a log line or an error. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@/]*)@/, "//$1:***@");
}
