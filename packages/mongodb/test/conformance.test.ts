import { describeCommitter, describeLock } from "@tidemark/conformance";
import type { TcpFaultProxy } from "@tidemark/test-servers";
import type { MongoClient } from "mongodb";
import { Binary } from "mongodb";
import { inject } from "vitest";
import { MongoCommitter, MongoLock } from "../src/index.js";
import { closeClient, openClient, rawCollection } from "./support/clients.js";
import { proxyFor } from "./support/proxy.js";

// The whole kit against the suite's server. Every committer and lock is a separate node: its own client,
// through its own fault proxy, so one can be cut off (or lose an answer) while the others go on.
const server = inject("mongodbServer");
const uri = inject("mongodbUri");
const commits = "tidemark_commits";
const locks = "tidemark_locks";
const nodes = new WeakMap<object, { client: MongoClient; proxy: TcpFaultProxy | null }>();
const inspector = openClient();

const readRaw = async (ingestor: string): Promise<Uint8Array | null> => {
  const document = await rawCollection(inspector, commits).findOne({ _id: ingestor });
  const latest = document?.latest;
  return latest instanceof Binary ? Uint8Array.from(latest.value()) : null;
};

async function proxiedClient(): Promise<{ client: MongoClient; proxy: TcpFaultProxy }> {
  const { proxy, uri: proxied } = await proxyFor(uri);
  return { client: openClient(proxied), proxy };
}

function node(instance: object): { client: MongoClient; proxy: TcpFaultProxy | null } {
  const found = nodes.get(instance);
  if (found === undefined) throw new Error("not created by this file");
  return found;
}

async function destroy(instance: object): Promise<void> {
  const { client, proxy } = node(instance);
  await closeClient(client);
  await proxy?.close();
}

const LEASE_MS = 1500;
const HEARTBEAT_MS = 400;
const POLL_MS = 100;

describeCommitter(`mongodb (${server})`, {
  create: async () => {
    const { client, proxy } = await proxiedClient();
    const committer = new MongoCommitter({ client });
    nodes.set(committer, { client, proxy });
    return committer;
  },
  destroy,
  readRaw,
  // The commit's update carries the ingestor name; the proxy lets it through and loses the answer.
  loseNextAnswer: (committer, ingestor) => {
    const proxy = node(committer).proxy as TcpFaultProxy;
    proxy.loseAnswerTo(ingestor);
    return () => !proxy.armed;
  },
});

describeLock(`mongodb (${server})`, {
  create: async (key) => {
    const { client, proxy } = await proxiedClient();
    const lock = new MongoLock({ client, key, leaseMs: LEASE_MS, heartbeatMs: HEARTBEAT_MS, pollMs: POLL_MS });
    nodes.set(lock, { client, proxy });
    return lock;
  },
  destroy,
  crash: (lock) => (lock as MongoLock).simulateCrash(),
  forceLoss: async (key) => {
    await rawCollection(inspector, locks).deleteOne({ _id: key });
  },
  // A silent partition: the connections stay open and nothing arrives, as when a switch drops packets.
  cutOff: (lock) => {
    const proxy = node(lock).proxy as TcpFaultProxy;
    proxy.stall();
    return () => proxy.resume();
  },
  lastRenewedAt: (lock) => (lock as MongoLock).lastRenewedAt,
  leaseMs: LEASE_MS,
  heartbeatMs: HEARTBEAT_MS,
  pollMs: POLL_MS,
  createCommitter: () => {
    const client = openClient();
    const committer = new MongoCommitter({ client });
    nodes.set(committer, { client, proxy: null });
    return committer;
  },
  destroyCommitter: destroy,
  readRaw,
});
