import { describeCommitter, describeLock } from "@tidemark/conformance";
import type { TcpFaultProxy } from "@tidemark/test-servers";
import { beforeAll } from "vitest";
import { createSchema, PostgresCommitter, PostgresLock } from "../src/index.js";
import { closeProxy, openPool, proxied, rawLatest } from "./support/postgres.js";

// The whole kit against the suite's server. Every committer and lock is a node of its own: its own pool,
// through its own fault proxy, so one can be cut off (or lose an answer) while the others go on.
const inspector = openPool();
const proxies = new WeakMap<object, TcpFaultProxy>();
beforeAll(() => createSchema(inspector));

const readRaw = (ingestor: string) => rawLatest(inspector, ingestor);

function proxyOf(instance: object): TcpFaultProxy {
  const proxy = proxies.get(instance);
  if (proxy === undefined) throw new Error("not created through a proxy by this file");
  return proxy;
}

async function destroy(instance: object): Promise<void> {
  const proxy = proxies.get(instance);
  if (proxy !== undefined) await closeProxy(proxy);
}

const LEASE_MS = 1500;
const HEARTBEAT_MS = 400;
const POLL_MS = 100;

describeCommitter("postgres", {
  create: async () => {
    const { proxy, url } = await proxied();
    const committer = new PostgresCommitter({ connectionString: url });
    proxies.set(committer, proxy);
    return committer;
  },
  destroy,
  readRaw,
  // The commit's Bind message carries the ingestor name: it reaches the server, its answer is lost.
  loseNextAnswer: (committer, ingestor) => {
    const proxy = proxyOf(committer);
    proxy.loseAnswerTo(ingestor);
    return () => !proxy.armed;
  },
});

describeLock("postgres", {
  create: async (key) => {
    const { proxy, url } = await proxied();
    const lock = new PostgresLock({
      connectionString: url,
      key,
      leaseMs: LEASE_MS,
      heartbeatMs: HEARTBEAT_MS,
      pollMs: POLL_MS,
    });
    proxies.set(lock, proxy);
    return lock;
  },
  destroy,
  crash: (lock) => (lock as PostgresLock).simulateCrash(),
  forceLoss: async (key) => {
    await inspector.query("DELETE FROM tidemark_locks WHERE key = $1", [key]);
  },
  // A silent partition: the connections stay open and nothing arrives, as when a switch drops packets.
  cutOff: (lock) => {
    const proxy = proxyOf(lock);
    proxy.stall();
    return () => proxy.resume();
  },
  lastRenewedAt: (lock) => (lock as PostgresLock).lastRenewedAt,
  leaseMs: LEASE_MS,
  heartbeatMs: HEARTBEAT_MS,
  pollMs: POLL_MS,
  createCommitter: () => new PostgresCommitter({ pool: inspector }),
  readRaw,
});
