import type { DistributedLock } from "@tidemark/core";
import type { StoreOptions } from "./store.js";

/** What a store's lock constructor is given: the shared option names of every tidemark lock. */
export interface LockSettings {
  readonly key: string;
  readonly owner: string;
  readonly leaseMs?: number;
}

/** The locks a store hands out: created with the store-wide lease unless told otherwise, closed with the store. */
export interface LockRegistry {
  createLock(key: string, options: { leaseMs?: number; owner: string }): DistributedLock;
  closeLocks(): Promise<void>;
}

export function lockRegistry(options: StoreOptions, make: (settings: LockSettings) => DistributedLock): LockRegistry {
  const locks: DistributedLock[] = [];
  return {
    createLock(key, { leaseMs, owner }) {
      const ms = leaseMs ?? options.leaseMs;
      const lock = make({ key, owner, ...(ms ? { leaseMs: ms } : {}) });
      locks.push(lock);
      return lock;
    },
    async closeLocks() {
      for (const lock of locks.splice(0)) await lock.close();
    },
  };
}
