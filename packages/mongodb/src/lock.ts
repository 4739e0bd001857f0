import { DEFAULT_LEASE_MS, LeaseLock, type OwnedLease } from "@tidemark/core";
import { resolveCollection } from "./collection.js";
import { MongoLeaseStore } from "./lease-store.js";
import type { MongoLockOptions } from "./options.js";
import type { LockRecord } from "./records.js";

export const DEFAULT_LOCK_COLLECTION = "tidemark_locks";

/** A lease of {@link MongoLock}: always carries a fencing token, plus the owner id written in the lease document. */
export interface MongoLease extends OwnedLease {
  readonly token: bigint;
}

/**
 * A DistributedLock on MongoDB: tidemark's lease engine over one lease
 * document per key, changed only by single-document conditional writes. Every
 * acquisition takes a token from a per-key counter (an atomic `$inc`) for the
 * committer's fence.
 */
export class MongoLock extends LeaseLock<LockRecord, MongoLease> {
  /** `database.collection` of the lease documents. */
  readonly namespace: string;

  constructor(options: MongoLockOptions) {
    const { collection, namespace, target } = resolveCollection(
      options,
      options?.collection ?? DEFAULT_LOCK_COLLECTION,
      "lock",
    );
    super(new MongoLeaseStore(options.key, collection, namespace, target), options, DEFAULT_LEASE_MS);
    this.namespace = namespace;
  }
}
