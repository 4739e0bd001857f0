// The fence: a commit given a lease is a transaction that also checks the lock record still carries
// that acquisition's owner name, so a holder that was paused, cut off, or replaced by a Go node
// cannot move the pointer.
import { DeleteItemCommand, type DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { uniqueName } from "@tidemark/conformance";
import {
  InvalidArgumentError,
  LockLostError,
  MemoryLock,
  MemoryLockServer,
  pointerFromNumber,
  pointerToHex,
} from "@tidemark/core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { DynamoDbCommitter, DynamoDbLock } from "../src/index.js";
import { FaultProxy } from "./fault-proxy.js";
import { destroyClient, freshTables, newClient } from "./support.js";

const LEASE_MS = 1500;
const HEARTBEAT_MS = 300;
const SLACK_MS = 1000;

let client: DynamoDBClient;
let tables: { commits: string; locks: string };
let proxy: FaultProxy;
const locks: DynamoDbLock[] = [];

beforeAll(async () => {
  client = newClient();
  tables = await freshTables(client);
  proxy = await FaultProxy.start(inject("dynamodbEndpoint"));
});
afterEach(async () => {
  proxy.clear();
  for (const lock of locks.splice(0)) await lock.close();
});
afterAll(async () => {
  await proxy?.close();
  if (client) destroyClient(client);
});

/** A wide safety margin: the cut-off test asserts the holder gives up before its lease ends, on a loaded machine. */
const MARGIN_MS = 500;

function newLock(key: string, lockClient = client): DynamoDbLock {
  const lock = new DynamoDbLock({
    client: lockClient,
    key,
    table: tables.locks,
    heartbeatMs: HEARTBEAT_MS,
    leaseMs: LEASE_MS,
    safetyMarginMs: MARGIN_MS,
    pollMs: 50,
  });
  locks.push(lock);
  return lock;
}

async function stored(ingestor: string): Promise<string> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tables.commits, Key: { ingestor: { S: ingestor } }, ConsistentRead: true }),
  );
  return Item?.latest?.B ? pointerToHex(Item.latest.B) : "null";
}

const p = pointerFromNumber;

describe("fenced commits", () => {
  it("reject a paused holder's commit once a contender took over, though its own signal never fired", async () => {
    const key = uniqueName("paused");
    const ingestor = uniqueName("paused-ingestor");
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const old = newLock(key);
    const oldLease = await old.lock(AbortSignal.timeout(10_000));
    await committer.commit(ingestor, null, p(1), { lease: oldLease });
    old.simulateCrash();
    const contender = newLock(key);
    const newLease = await contender.lock(AbortSignal.timeout(2 * LEASE_MS + 10_000));
    // Frozen: it still believes it holds the lock. Only DynamoDB's check stops it.
    expect(oldLease.signal.aborted).toBe(false);
    const late = committer.commit(ingestor, p(1), p(2), { lease: oldLease });
    await expect(late).rejects.toBeInstanceOf(LockLostError);
    await expect(late).rejects.toThrow(new RegExp(`lock "${key}" in table "${tables.locks}"`));
    expect(await stored(ingestor)).toBe(pointerToHex(p(1)));
    await committer.commit(ingestor, p(1), p(2), { lease: newLease });
    expect(await stored(ingestor)).toBe(pointerToHex(p(2)));
  });

  it("reject the TypeScript holder's commit after a Go node wrote its own record over it", async () => {
    const key = uniqueName("go-takeover");
    const ingestor = uniqueName("go-takeover-ingestor");
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const lock = newLock(key);
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await committer.commit(ingestor, null, p(10), { lease });
    const lost = new Promise<number>((resolve) =>
      lease.signal.addEventListener("abort", () => resolve(performance.now()), { once: true }),
    );
    // dynamolock's takeover of an expired record: a full put, its own owner name, lease and version.
    const takenAt = performance.now();
    await client.send(
      new PutItemCommand({
        TableName: tables.locks,
        Item: {
          key: { S: key },
          ownerName: { S: "go-agora-node-7" },
          leaseDuration: { S: "30s" },
          recordVersionNumber: { S: "goVersion1" },
        },
      }),
    );
    await expect(committer.commit(ingestor, p(10), p(11), { lease })).rejects.toBeInstanceOf(LockLostError);
    expect(await stored(ingestor)).toBe(pointerToHex(p(10)));
    // Its next heartbeat fails its condition, and the record names the new owner.
    const noticedAt = await lost;
    expect(noticedAt - takenAt).toBeLessThanOrEqual(HEARTBEAT_MS + SLACK_MS);
    expect(String((lease.signal.reason as Error).message)).toMatch(/go-agora-node-7/);
    expect((await lock.describe())?.owner).toBe("go-agora-node-7");
  });

  it("reject the holder's commit once its record was deleted behind its back, and its lease aborts", async () => {
    const key = uniqueName("deleted");
    const ingestor = uniqueName("deleted-ingestor");
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const lock = newLock(key);
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await committer.commit(ingestor, null, p(1), { lease });
    const lost = new Promise<void>((resolve) =>
      lease.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    const deletedAt = performance.now();
    await client.send(new DeleteItemCommand({ TableName: tables.locks, Key: { key: { S: key } } }));
    await expect(committer.commit(ingestor, p(1), p(2), { lease })).rejects.toBeInstanceOf(LockLostError);
    await lost;
    expect(performance.now() - deletedAt).toBeLessThanOrEqual(HEARTBEAT_MS + SLACK_MS);
    expect(String((lease.signal.reason as Error).message)).toMatch(/removed/);
    expect(await stored(ingestor)).toBe(pointerToHex(p(1)));
    // The token counter went with the record: the next acquisition starts again at 1.
    expect((await lock.lock(AbortSignal.timeout(10_000))).token).toBe(1n);
  });

  it("stop a holder cut off from DynamoDB before anyone can take over", async () => {
    const key = uniqueName("cut-off");
    const ingestor = uniqueName("cut-off-ingestor");
    const viaProxy = newClient({ endpoint: proxy.url, config: { maxAttempts: 1 } });
    const committer = new DynamoDbCommitter({ client: viaProxy, table: tables.commits });
    const lock = newLock(key, viaProxy);
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await committer.commit(ingestor, null, p(1), { lease });
    const cut = proxy.add({ match: (request) => request.body.TableName === tables.locks, fault: "drop" });
    const lastRenewal = lock.lastRenewedAt ?? 0;
    const lostAt = await new Promise<number>((resolve) =>
      lease.signal.addEventListener("abort", () => resolve(performance.now()), { once: true }),
    );
    expect(cut.hits).toBeGreaterThan(0);
    // It gives up before its lease could have run out for a waiter that saw its last version.
    expect(lostAt - lastRenewal).toBeLessThan(LEASE_MS);
    expect(lostAt - lastRenewal).toBeGreaterThanOrEqual(LEASE_MS - MARGIN_MS - 50);
    await expect(committer.commit(ingestor, p(1), p(2), { lease })).rejects.toBeInstanceOf(LockLostError);
    // A contender on a healthy connection gets the lock only after the lease it saw ran out.
    const contender = newLock(key);
    const started = performance.now();
    await contender.lock(AbortSignal.timeout(2 * LEASE_MS + 10_000));
    expect(performance.now() - started).toBeGreaterThanOrEqual(LEASE_MS - 50);
    expect(await stored(ingestor)).toBe(pointerToHex(p(1)));
  });

  it("refuse a lease that is not a DynamoDB lease, and one already released", async () => {
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const ingestor = uniqueName("foreign-lease");
    const memoryLock = new MemoryLock({ server: new MemoryLockServer(), key: "k" });
    try {
      const memory = await memoryLock.lock(AbortSignal.timeout(1000));
      await expect(committer.commit(ingestor, null, p(1), { lease: memory })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    } finally {
      await memoryLock.unlock();
    }
    const lock = newLock(uniqueName("released"));
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await lock.unlock();
    await expect(committer.commit(ingestor, null, p(1), { lease })).rejects.toBeInstanceOf(LockLostError);
    // Even a copy whose signal never fired: the record says released.
    const copy = { ...lease, signal: new AbortController().signal };
    await expect(committer.commit(ingestor, null, p(1), { lease: copy })).rejects.toBeInstanceOf(LockLostError);
    expect(await stored(ingestor)).toBe("null");
  });
});
