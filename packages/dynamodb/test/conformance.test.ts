import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { describeCommitter, describeLock } from "@tidemark/conformance";
import type { Committer, DistributedLock } from "@tidemark/core";
import { TcpFaultProxy } from "@tidemark/test-servers";
import { beforeAll, inject } from "vitest";
import { DynamoDbCommitter, DynamoDbLock } from "../src/index.js";
import { destroyClient, freshTables, newClient } from "./support.js";

// The kit's factories run inside tests, after beforeAll made the tables.
let admin: DynamoDBClient;
let tables: { commits: string; locks: string };
beforeAll(async () => {
  admin = newClient();
  tables = await freshTables(admin);
});

/** Each committer and lock is a node of its own: its own client, through its own proxy to cut or lose answers on. */
interface Node {
  readonly client: DynamoDBClient;
  readonly proxy: TcpFaultProxy;
}
const nodes = new WeakMap<object, Node>();

/** `maxAttempts` 1: a lost answer is settled by the adapter itself, not hidden by the SDK's retry. */
async function openNode(): Promise<Node> {
  const upstream = new URL(inject("dynamodbEndpoint"));
  const proxy = await TcpFaultProxy.start({ host: upstream.hostname, port: Number(upstream.port) });
  const client = newClient({ endpoint: `http://${proxy.address}`, config: { maxAttempts: 1 } });
  return { client, proxy };
}

function nodeOf(target: object): Node {
  const node = nodes.get(target);
  if (node === undefined) throw new Error("not created by this test's factories");
  return node;
}

async function destroy(target: object): Promise<void> {
  const node = nodes.get(target);
  if (node === undefined) return;
  nodes.delete(target);
  destroyClient(node.client);
  await node.proxy.close();
}

async function createCommitter(): Promise<Committer> {
  const node = await openNode();
  const committer = new DynamoDbCommitter({ client: node.client, table: tables.commits });
  nodes.set(committer, node);
  return committer;
}

async function readRaw(ingestor: string): Promise<Uint8Array | null> {
  const { Item } = await admin.send(
    new GetItemCommand({ TableName: tables.commits, Key: { ingestor: { S: ingestor } }, ConsistentRead: true }),
  );
  return Item?.latest?.B ?? null;
}

describeCommitter("dynamodb", {
  create: createCommitter,
  destroy,
  readRaw,
  // The commit request is the next one naming the ingestor: its UpdateItem (or TransactWriteItems) body.
  loseNextAnswer: (committer, ingestor) => nodeOf(committer).proxy.loseAnswerTo(JSON.stringify(ingestor)),
});

const LEASE_MS = 1500;
const HEARTBEAT_MS = 500;
const POLL_MS = 100;

describeLock("dynamodb", {
  create: async (key): Promise<DistributedLock> => {
    const node = await openNode();
    const lock = new DynamoDbLock({
      client: node.client,
      key,
      table: tables.locks,
      heartbeatMs: HEARTBEAT_MS,
      leaseMs: LEASE_MS,
      pollMs: POLL_MS,
    });
    nodes.set(lock, node);
    return lock;
  },
  destroy,
  crash: (lock) => (lock as DynamoDbLock).simulateCrash(),
  // Released behind the holder's back, as dynamolock's release marks it. Deleting the record would take the
  // lock away just as well (fencing.test.ts), but also the token counter kept in it, which the kit expects to grow.
  forceLoss: async (key) => {
    await admin.send(
      new UpdateItemCommand({
        TableName: tables.locks,
        Key: { key: { S: key } },
        UpdateExpression: "SET isReleased = :released",
        ExpressionAttributeValues: { ":released": { S: "1" } },
      }),
    );
  },
  // A silent partition: requests hang until their deadline, as behind a dead link.
  cutOff: (lock) => {
    const { proxy } = nodeOf(lock);
    proxy.stall();
    return () => proxy.resume();
  },
  lastRenewedAt: (lock) => (lock as DynamoDbLock).lastRenewedAt,
  leaseMs: LEASE_MS,
  heartbeatMs: HEARTBEAT_MS,
  pollMs: POLL_MS,
  createCommitter,
  destroyCommitter: destroy,
  readRaw,
});
