import {
  createEtcdClient,
  EtcdCommitter,
  type EtcdCommitterOptions,
  EtcdLock,
  type EtcdLockOptions,
} from "@tidemark/etcd";
import type { Etcd3 } from "etcd3";
import { afterAll, inject } from "vitest";

export function endpoints(): string[] {
  return inject("etcdEndpoints");
}

/** A client for raw reads and for doing things behind a lock's back; closed after the file. */
export function adminClient(hosts: readonly string[] = endpoints()): Etcd3 {
  const client = createEtcdClient({ hosts: [...hosts] });
  afterAll(() => client.close());
  return client;
}

export function newCommitter(options: Partial<EtcdCommitterOptions> = {}): EtcdCommitter {
  return new EtcdCommitter({ connection: { hosts: endpoints() }, ...options });
}

export function newLock(key: string, options: Partial<EtcdLockOptions> = {}): EtcdLock {
  return new EtcdLock({ connection: { hosts: endpoints() }, key, leaseMs: 2000, ...options });
}

/** The stored pointer bytes, read straight from etcd. */
export async function readRaw(client: Etcd3, key: string): Promise<Uint8Array | null> {
  const value = await client.get(key).buffer();
  return value === null ? null : new Uint8Array(value);
}

/** Revokes the lease of the lock's current holder from another client, as an operator would. Returns its lease id. */
export async function revokeHolder(client: Etcd3, lock: { readonly keyPrefix: string }): Promise<string> {
  const holder = (
    await client.kv.range({
      key: Buffer.from(lock.keyPrefix),
      range_end: prefixEnd(lock.keyPrefix),
      sort_target: "Create",
      sort_order: "Ascend",
      limit: 1,
    })
  ).kvs[0];
  if (holder === undefined) throw new Error(`nobody holds the lock under ${lock.keyPrefix}`);
  await client.leaseClient.leaseRevoke({ ID: holder.lease });
  return holder.lease;
}

/** The keys under a lock's prefix, oldest first. */
export async function contenderKeys(client: Etcd3, lock: { readonly keyPrefix: string }): Promise<string[]> {
  const response = await client.kv.range({
    key: Buffer.from(lock.keyPrefix),
    range_end: prefixEnd(lock.keyPrefix),
    sort_target: "Create",
    sort_order: "Ascend",
  });
  return response.kvs.map((kv) => kv.key.toString("utf8"));
}

function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] as number) + 1;
  return end;
}
