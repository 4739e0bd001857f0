import { InvalidArgumentError, type Lease, LockLostError, type OwnedLease } from "@tidemark/core";
import type { ICompare, IRequestOp } from "etcd3";
import { showKey } from "./keys.js";

/** The lease an {@link EtcdLock} hands out: besides the signal and owner id, where its holding lives in etcd. */
export interface EtcdLease extends OwnedLease {
  /** The create revision of {@link holderKey}: it grows with every acquisition. */
  readonly token: bigint;
  /** The holder's key, `<prefix><name>/<lease id hex>`, attached to the etcd lease. */
  readonly holderKey: string;
  /** The etcd lease id (decimal). */
  readonly leaseId: string;
}

export function isEtcdLease(lease: Lease): lease is EtcdLease {
  const candidate = lease as Partial<EtcdLease>;
  return (
    typeof candidate.holderKey === "string" && typeof candidate.leaseId === "string" && typeof lease.token === "bigint"
  );
}

/** What a fenced transaction adds: the compare, and a read that explains a failed one. */
export interface Fence {
  readonly compare: ICompare;
  readonly read: IRequestOp;
  readonly holderKey: Buffer;
  readonly lease: EtcdLease;
}

/**
 * etcd's `IsOwner` check: the holder key still exists with the create
 * revision it was acquired at. A revoked or expired lease deletes the key, and
 * a later holder's key has a higher create revision, so a commit carrying this
 * compare can only apply while the lease is the current holding.
 */
export function fenceFor(lease: Lease, ingestor: string): Fence {
  if (lease.signal.aborted) {
    throw new LockLostError(`commit for "${ingestor}" rejected: the lease given with it was already lost`, {
      cause: lease.signal.reason,
    });
  }
  if (!isEtcdLease(lease)) {
    throw new InvalidArgumentError(
      `commit for "${ingestor}": an etcd commit can only be fenced by a lease from EtcdLock (token and holderKey), got a lease with token ${String(lease.token)}`,
    );
  }
  const holderKey = Buffer.from(lease.holderKey);
  return {
    compare: { key: holderKey, target: "Create", result: "Equal", create_revision: lease.token.toString() },
    read: { request_range: { key: holderKey } },
    holderKey,
    lease,
  };
}

/** The error for a fenced commit whose holder key is gone or was re-created. */
export function fenceBroken(
  ingestor: string,
  fence: Fence,
  endpoints: string,
  createRevision: string | undefined,
): LockLostError {
  const seen =
    createRevision === undefined
      ? "is gone (the lease expired or was revoked)"
      : `has create revision ${createRevision}`;
  return new LockLostError(
    `etcd ${endpoints}: commit for "${ingestor}" rejected: holder key ${showKey(fence.holderKey)} of lease ${fence.lease.leaseId} ${seen}, not token ${fence.lease.token}`,
  );
}
