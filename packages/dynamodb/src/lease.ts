import type { Lease, OwnedLease } from "@tidemark/core";

/**
 * The lease `DynamoDbLock` hands out. Besides the owner id of the acquisition
 * (written as the record's `ownerName`) and the lock's key it names the lock
 * table: a fenced commit checks, atomically with the commit, that the record
 * there still names this owner.
 */
export interface DynamoDbLease extends OwnedLease {
  /** The lock table. */
  readonly table: string;
}

export function isDynamoDbLease(lease: Lease): lease is DynamoDbLease {
  const candidate = lease as Partial<DynamoDbLease>;
  return (
    typeof candidate.owner === "string" && typeof candidate.table === "string" && typeof candidate.key === "string"
  );
}
