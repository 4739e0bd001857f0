import { describeCommitter, describeLock } from "@tidemark/conformance";
import type { Committer, DistributedLock } from "@tidemark/core";
import type { MongoClient } from "mongodb";
import { Binary } from "mongodb";
import { inject } from "vitest";
import { MongoCommitter, MongoLock } from "../src/index.js";
import { closeClient, openClient, rawCollection } from "./support/clients.js";

// The whole kit against the suite's server; every committer and lock gets its own client, like a separate node.
const server = inject("mongodbServer");
const commits = "tidemark_commits";
const locks = "tidemark_locks";
const clients = new WeakMap<object, MongoClient>();
const inspector = openClient();

const readRaw = async (ingestor: string): Promise<Uint8Array | null> => {
  const document = await rawCollection(inspector, commits).findOne({ _id: ingestor });
  const latest = document?.latest;
  return latest instanceof Binary ? Uint8Array.from(latest.value()) : null;
};

function createCommitter(): Committer {
  const client = openClient();
  const committer = new MongoCommitter({ client });
  clients.set(committer, client);
  return committer;
}

async function destroy(instance: object): Promise<void> {
  const client = clients.get(instance);
  if (client) await closeClient(client);
}

const LEASE_MS = 1500;
const HEARTBEAT_MS = 400;
const POLL_MS = 100;

describeCommitter(`mongodb (${server})`, { create: createCommitter, destroy, readRaw });

describeLock(`mongodb (${server})`, {
  create: (key): DistributedLock => {
    const client = openClient();
    const lock = new MongoLock({ client, key, leaseMs: LEASE_MS, heartbeatMs: HEARTBEAT_MS, pollMs: POLL_MS });
    clients.set(lock, client);
    return lock;
  },
  destroy,
  crash: (lock) => (lock as MongoLock).simulateCrash(),
  forceLoss: async (key) => {
    await rawCollection(inspector, locks).deleteOne({ _id: key });
  },
  lastRenewedAt: (lock) => (lock as MongoLock).lastRenewedAt,
  leaseMs: LEASE_MS,
  renewIntervalMs: HEARTBEAT_MS,
  pollIntervalMs: POLL_MS,
  createCommitter,
  destroyCommitter: destroy,
  readRaw,
});
