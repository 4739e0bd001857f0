import { InvalidArgumentError, LeaseLock, type OwnedLease } from "@tidemark/core";
import type { DynamoDbLease } from "./lease.js";
import { DynamoDbLeaseStore } from "./lease-store.js";
import type { LockRecord } from "./lock-record.js";
import { DEFAULT_LOCK_LEASE_MS, DEFAULT_LOCKS_TABLE, type DynamoDbLockOptions } from "./options.js";

/**
 * A `DistributedLock` on a cirello.io/dynamolock v1.3.3 table, record for
 * record, so Go agora nodes and TypeScript nodes can share one lock during a
 * migration. The protocol is core's lease engine; this class only maps it onto
 * dynamolock's records (see `DynamoDbLeaseStore`) and hands out leases that
 * name the lock table, for the committer's fence.
 */
export class DynamoDbLock extends LeaseLock<LockRecord, DynamoDbLease> {
  /** The lock table. */
  readonly table: string;

  constructor(options: DynamoDbLockOptions) {
    if (options?.client == null) throw new InvalidArgumentError("dynamodb lock: options.client is required");
    const table = options.table ?? DEFAULT_LOCKS_TABLE;
    if (typeof table !== "string" || table.length === 0) {
      throw new InvalidArgumentError("dynamodb lock: table must be a non-empty string");
    }
    const store = new DynamoDbLeaseStore({
      client: options.client,
      table,
      key: options.key,
      deleteOnRelease: options.deleteOnRelease ?? false,
      data: options.data === undefined ? undefined : new Uint8Array(options.data),
    });
    super(store, options, DEFAULT_LOCK_LEASE_MS);
    this.table = table;
    // dynamolock's own rule, so a Go node reading our record sees a lease it would have accepted.
    const { leaseMs, heartbeatMs } = this.timings;
    if (!Number.isInteger(leaseMs) || leaseMs < 2 * heartbeatMs) {
      throw new InvalidArgumentError(
        `${store.label}: leaseMs must be a whole number of at least 2 * heartbeatMs (${2 * heartbeatMs}), got ${leaseMs}`,
      );
    }
  }

  protected override extendLease(lease: OwnedLease): DynamoDbLease {
    return { ...lease, table: this.table };
  }
}
