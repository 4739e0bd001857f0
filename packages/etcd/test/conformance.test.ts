import { describeCommitter, describeLock } from "@tidemark/conformance";
import type { EtcdCommitter, EtcdLock } from "@tidemark/etcd";
import { TcpFaultProxy } from "@tidemark/test-servers";
import { afterAll } from "vitest";
import { adminClient, endpoints, newCommitter, newLock, readRaw, revokeHolder } from "./helpers.js";

const admin = adminClient();
/** Every committer uses the default prefix, so one raw reader serves them all. */
const keys = newCommitter();
afterAll(() => keys.close());
const LEASE_MS = 2000;
const raw = (ingestor: string) => readRaw(admin, keys.keyFor(ingestor));

/** Each lock and committer the kit creates reaches etcd through a proxy of its own, so one of them can be cut off. */
const proxies = new Map<object, TcpFaultProxy>();

async function throughProxy<T extends object>(open: (hosts: string) => T): Promise<T> {
  const etcd = new URL(endpoints()[0] as string);
  const proxy = await TcpFaultProxy.start({ host: etcd.hostname, port: Number(etcd.port) });
  const item = open(`http://${proxy.address}`);
  proxies.set(item, proxy);
  return item;
}

function proxyOf(item: object): TcpFaultProxy {
  const proxy = proxies.get(item);
  if (proxy === undefined) throw new Error("this lock or committer was not created through a proxy");
  return proxy;
}

async function closeProxy(item: object): Promise<void> {
  await proxies.get(item)?.close();
  proxies.delete(item);
}

describeCommitter("etcd", {
  create: () => throughProxy((hosts) => newCommitter({ connection: { hosts } })),
  destroy: closeProxy,
  readRaw: raw,
  // The commit's transaction carries the ingestor's key: the request reaches etcd, its answer is lost.
  loseNextAnswer: (committer, ingestor) =>
    proxyOf(committer).loseAnswerTo((committer as EtcdCommitter).keyFor(ingestor)),
});

describeLock("etcd", {
  create: (key) => throughProxy((hosts) => newLock(key, { connection: { hosts }, leaseMs: LEASE_MS })),
  destroy: closeProxy,
  crash: (lock) => (lock as EtcdLock).simulateCrash(),
  forceLoss: async (key) => {
    // A lock of the same key only to learn its key prefix, as an operator would look it up.
    const probe = newLock(key);
    try {
      await revokeHolder(admin, probe);
    } finally {
      await probe.close();
    }
  },
  // A silent partition: the holder's keep-alives and its watch hear nothing until healed.
  cutOff: (lock) => {
    const proxy = proxyOf(lock);
    proxy.stall();
    return () => proxy.resume();
  },
  leaseMs: LEASE_MS,
  heartbeatMs: LEASE_MS / 3,
  // Waiters watch their predecessor's key: a release reaches them as fast as etcd delivers a watch event.
  pollMs: 250,
  lastRenewedAt: (lock) => (lock as EtcdLock).lastRenewedAt,
  createCommitter: () => newCommitter(),
  readRaw: raw,
});
