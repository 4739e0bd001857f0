import type { Lease } from "@tidemark/core";

/**
 * The lease `DynamoDbLock` hands out. Besides core's fields it names the lock
 * record and the owner name written for this acquisition, which is what a
 * fenced commit checks on the record (the fence), atomically with the commit.
 */
export interface DynamoDbLease extends Lease {
  /** Unique per acquisition: `<owner>.<random>`; a new holding, Go or TypeScript, writes another. */
  readonly ownerName: string;
  /** The lock table. */
  readonly table: string;
  /** The lock record's `key`. */
  readonly key: string;
}

export function isDynamoDbLease(lease: Lease): lease is DynamoDbLease {
  const candidate = lease as Partial<DynamoDbLease>;
  return (
    typeof candidate.ownerName === "string" && typeof candidate.table === "string" && typeof candidate.key === "string"
  );
}
