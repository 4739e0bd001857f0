import { describeCommitter, describeLock } from "@tidemark/conformance";
import type { EtcdCommitter, EtcdLock } from "@tidemark/etcd";
import { afterAll } from "vitest";
import { adminClient, newCommitter, newLock, readRaw, revokeHolder } from "./helpers.js";

const admin = adminClient();
/** Every committer uses the default prefix, so one raw reader serves them all. */
const keys = newCommitter();
afterAll(() => keys.close());
const TTL_SECONDS = 2;
/** forceLoss builds a lock with the same name and options only to learn its key prefix. */
const lockFor = (name: string) => newLock(name, { ttlSeconds: TTL_SECONDS });

const raw = (ingestor: string) => readRaw(admin, keys.keyFor(ingestor));

describeCommitter("etcd", {
  create: () => newCommitter(),
  destroy: (committer) => (committer as EtcdCommitter).close(),
  readRaw: raw,
});

describeLock("etcd", {
  create: (key) => lockFor(key),
  destroy: (lock) => (lock as EtcdLock).close(),
  crash: (lock) => (lock as EtcdLock).simulateCrash(),
  forceLoss: async (key) => {
    await revokeHolder(admin, lockFor(key));
  },
  leaseMs: TTL_SECONDS * 1000,
  renewIntervalMs: (TTL_SECONDS * 1000) / 3,
  // Waiters watch their predecessor's key: a release reaches them as fast as etcd delivers a watch event.
  pollIntervalMs: 250,
  lastRenewedAt: (lock) => (lock as EtcdLock).lastRenewedAt,
  createCommitter: () => newCommitter(),
  destroyCommitter: (committer) => (committer as EtcdCommitter).close(),
  readRaw: raw,
});
