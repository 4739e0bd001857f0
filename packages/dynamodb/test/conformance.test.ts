import { DeleteItemCommand, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { describeCommitter, describeLock } from "@tidemark/conformance";
import type { Committer, DistributedLock } from "@tidemark/core";
import { beforeAll } from "vitest";
import { DynamoDbCommitter, DynamoDbLock } from "../src/index.js";
import { destroyClient, freshTables, newClient } from "./support.js";

// The kit's factories run inside tests, after beforeAll made the tables.
let admin: DynamoDBClient;
let tables: { commits: string; locks: string };
beforeAll(async () => {
  admin = newClient();
  tables = await freshTables(admin);
});

/** Each committer and lock gets its own client, like a separate node, closed by the kit's destroy hooks. */
const clientOf = new WeakMap<object, DynamoDBClient>();

function createCommitter(): Committer {
  const client = newClient();
  const committer = new DynamoDbCommitter({ client, table: tables.commits });
  clientOf.set(committer, client);
  return committer;
}

function destroy(target: object): void {
  const client = clientOf.get(target);
  if (client) destroyClient(client);
}

async function readRaw(ingestor: string): Promise<Uint8Array | null> {
  const { Item } = await admin.send(
    new GetItemCommand({ TableName: tables.commits, Key: { ingestor: { S: ingestor } }, ConsistentRead: true }),
  );
  return Item?.latest?.B ?? null;
}

describeCommitter("dynamodb", { create: createCommitter, destroy, readRaw });

const LEASE_MS = 1500;
const HEARTBEAT_MS = 500;
const POLL_MS = 100;

describeLock("dynamodb", {
  create: (key): DistributedLock => {
    const client = newClient();
    const lock = new DynamoDbLock({
      client,
      key,
      table: tables.locks,
      heartbeatMs: HEARTBEAT_MS,
      leaseMs: LEASE_MS,
      pollMs: POLL_MS,
    });
    clientOf.set(lock, client);
    return lock;
  },
  destroy,
  crash: (lock) => (lock as DynamoDbLock).simulateCrash(),
  forceLoss: async (key) => {
    await admin.send(new DeleteItemCommand({ TableName: tables.locks, Key: { key: { S: key } } }));
  },
  lastRenewedAt: (lock) => (lock as DynamoDbLock).lastRenewedAt,
  leaseMs: LEASE_MS,
  renewIntervalMs: HEARTBEAT_MS,
  pollIntervalMs: POLL_MS,
  createCommitter,
  destroyCommitter: destroy,
  readRaw,
});
