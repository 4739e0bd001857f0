// What this package writes must be what agora (Go) and cirello.io/dynamolock v1.3.3 write and read,
// attribute for attribute: the two fleets share these tables during a migration.
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { uniqueName } from "@tidemark/conformance";
import { pointerFromNumber, sleep } from "@tidemark/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbCommitter, DynamoDbLock, parseGoDuration } from "../src/index.js";
import { freshTables, newClient } from "./support.js";

let client: DynamoDBClient;
let tables: { commits: string; locks: string };
const locks: DynamoDbLock[] = [];

beforeAll(async () => {
  client = newClient();
  tables = await freshTables(client);
});

afterEach(async () => {
  for (const lock of locks.splice(0)) await lock.close();
});

function newLock(key: string, options: Partial<ConstructorParameters<typeof DynamoDbLock>[0]> = {}): DynamoDbLock {
  const lock = new DynamoDbLock({
    client,
    key,
    table: tables.locks,
    heartbeatMs: 300,
    leaseMs: 1500,
    pollMs: 50,
    ...options,
  });
  locks.push(lock);
  return lock;
}

async function rawLock(key: string): Promise<Record<string, AttributeValue> | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tables.locks, Key: { key: { S: key } }, ConsistentRead: true }),
  );
  return Item;
}

/** The attribute names and their DynamoDB types, e.g. `{ key: "S", latest: "B" }`. */
function shape(item: Record<string, AttributeValue> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(item ?? {})) {
    out[name] = Object.entries(value).find(([, v]) => v !== undefined)?.[0] ?? "?";
  }
  return out;
}

const RANDOM_VERSION = /^[0-9a-zA-Z-]{32,}$/;

/** A record as a Go agora node (dynamolock v1.3.3, lease 3 x 10 s) writes it on acquisition. */
function goRecord(key: string, owner: string, rvn: string, leaseDuration = "30s"): Record<string, AttributeValue> {
  return {
    key: { S: key },
    ownerName: { S: owner },
    leaseDuration: { S: leaseDuration },
    recordVersionNumber: { S: rvn },
  };
}

async function putGoRecord(item: Record<string, AttributeValue>): Promise<void> {
  await client.send(new PutItemCommand({ TableName: tables.locks, Item: item }));
}

/** Resolves with the lease, or null once `ms` pass (the attempt is then aborted). */
async function tryLock(lock: DynamoDbLock, ms: number) {
  try {
    return await lock.lock(AbortSignal.timeout(ms));
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") return null;
    throw error;
  }
}

describe("commit table layout (agora v0.2.7)", () => {
  it("stores exactly { ingestor: S, latest: B } with the committed bytes", async () => {
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const ingestor = uniqueName("layout");
    await committer.commit(ingestor, null, pointerFromNumber(41));
    await committer.commit(ingestor, pointerFromNumber(41), pointerFromNumber(42));
    const { Item } = await client.send(
      new GetItemCommand({ TableName: tables.commits, Key: { ingestor: { S: ingestor } }, ConsistentRead: true }),
    );
    expect(shape(Item)).toEqual({ ingestor: "S", latest: "B" });
    expect(Item?.ingestor?.S).toBe(ingestor);
    expect(Buffer.from(Item?.latest?.B ?? []).toString("hex")).toBe("000000000000002a");
  });

  it("continues from what a Go committer stored, and Go's first-commit parent [0x00] rule still holds for it", async () => {
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const ingestor = uniqueName("go-written");
    await client.send(
      new PutItemCommand({
        TableName: tables.commits,
        Item: { ingestor: { S: ingestor }, latest: { B: pointerFromNumber(7) } },
      }),
    );
    expect(await committer.latest(ingestor)).toEqual(pointerFromNumber(7));
    await committer.commit(ingestor, pointerFromNumber(7), pointerFromNumber(8));
    // What a Go node would send next: agora's UpdateItem, verbatim, still accepts our item.
    await client.send(
      new UpdateItemCommand({
        TableName: tables.commits,
        Key: { ingestor: { S: ingestor } },
        UpdateExpression: "SET latest = :block",
        ConditionExpression: "attribute_not_exists(latest) or (latest = :parent and latest < :block)",
        ExpressionAttributeValues: { ":parent": { B: pointerFromNumber(8) }, ":block": { B: pointerFromNumber(9) } },
      }),
    );
    expect(await committer.latest(ingestor)).toEqual(pointerFromNumber(9));
  });
});

describe("lock record layout (cirello.io/dynamolock v1.3.3)", () => {
  it("writes ownerName, a Go leaseDuration, a random recordVersionNumber and the token counter, nothing else", async () => {
    const key = uniqueName("shape");
    const lock = newLock(key, { leaseMs: 1500 });
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const item = await rawLock(key);
    expect(shape(item)).toEqual({
      key: "S",
      ownerName: "S",
      leaseDuration: "S",
      recordVersionNumber: "S",
      tidemarkToken: "N",
    });
    expect(item?.key?.S).toBe(key);
    expect(item?.ownerName?.S).toBe(lease.owner);
    expect(item?.leaseDuration?.S).toBe("1.5s");
    expect(parseGoDuration(item?.leaseDuration?.S ?? "")).toBe(1500);
    // Opaque to dynamolock, which only compares it: random, and at least as long as its own 32 characters.
    expect(item?.recordVersionNumber?.S).toMatch(RANDOM_VERSION);
    expect(item?.tidemarkToken?.N).toBe(String(lease.token));
  });

  it('writes agora\'s default lease as "30s"', async () => {
    const key = uniqueName("default-lease");
    const lock = newLock(key, { heartbeatMs: undefined, leaseMs: undefined });
    await lock.lock(AbortSignal.timeout(10_000));
    expect((await rawLock(key))?.leaseDuration?.S).toBe("30s");
  });

  it("renews by changing only recordVersionNumber (and rewriting leaseDuration), checking owner and version", async () => {
    const key = uniqueName("renew");
    const lock = newLock(key);
    await lock.lock(AbortSignal.timeout(10_000));
    const before = await rawLock(key);
    await sleep(800);
    const after = await rawLock(key);
    expect(after?.recordVersionNumber?.S).not.toBe(before?.recordVersionNumber?.S);
    expect(after?.recordVersionNumber?.S).toMatch(RANDOM_VERSION);
    expect({ ...after, recordVersionNumber: undefined }).toEqual({ ...before, recordVersionNumber: undefined });
  });

  it('releases with isReleased = "1" and keeps the record', async () => {
    const key = uniqueName("release");
    const lock = newLock(key);
    await lock.lock(AbortSignal.timeout(10_000));
    const held = await rawLock(key);
    await lock.unlock();
    const released = await rawLock(key);
    expect(released?.isReleased).toEqual({ S: "1" });
    expect(shape(released)).toEqual({ ...shape(held), isReleased: "S" });
    expect(released?.ownerName).toEqual(held?.ownerName);
    expect(await lock.describe()).toBeNull();
  });

  it("deletes the record on release when configured", async () => {
    const key = uniqueName("delete");
    const lock = newLock(key, { deleteOnRelease: true });
    await lock.lock(AbortSignal.timeout(10_000));
    await lock.unlock();
    expect(await rawLock(key)).toBeUndefined();
  });

  it("stores data as binary, and keeps a previous record's data and foreign attributes as dynamolock does", async () => {
    const key = uniqueName("data");
    await putGoRecord({
      ...goRecord(key, "go-node", "v1"),
      isReleased: { S: "1" },
      data: { B: Uint8Array.of(1, 2) },
      zone: { S: "eu" },
    });
    const lock = newLock(key);
    await lock.lock(AbortSignal.timeout(10_000));
    const item = await rawLock(key);
    expect(item?.data?.B).toEqual(Uint8Array.of(1, 2));
    expect(item?.zone).toEqual({ S: "eu" });
    expect(item?.isReleased).toBeUndefined();
    await lock.unlock();
    const withData = newLock(key, { data: Uint8Array.of(9) });
    await withData.lock(AbortSignal.timeout(10_000));
    expect((await rawLock(key))?.data?.B).toEqual(Uint8Array.of(9));
  });

  it("counts acquisitions in the token, across released records", async () => {
    const key = uniqueName("token");
    const tokens: (bigint | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const lock = newLock(key);
      tokens.push((await lock.lock(AbortSignal.timeout(10_000))).token);
      expect((await lock.describe())?.token).toBe(tokens.at(-1));
      await lock.unlock();
    }
    expect(tokens).toEqual([1n, 2n, 3n]);
  });

  it("gives every acquisition its own owner name", async () => {
    const key = uniqueName("owners");
    const lock = newLock(key, { owner: "node-a" });
    const first = await lock.lock(AbortSignal.timeout(10_000));
    await lock.unlock();
    const second = await lock.lock(AbortSignal.timeout(10_000));
    expect(first.owner).toMatch(/^node-a:/);
    expect(second.owner).toMatch(/^node-a:/);
    expect(second.owner).not.toBe(first.owner);
    expect((await lock.describe())?.owner).toBe(second.owner);
    expect((await rawLock(key))?.ownerName?.S).toBe(second.owner);
  });
});

describe("a Go holder's record", () => {
  it("blocks acquisition for its own 30 s lease (not ours), until Go releases it", async () => {
    const key = uniqueName("go-held");
    await putGoRecord(goRecord(key, "go-agora-node", "goVersion1"));
    const lock = newLock(key, { leaseMs: 900 });
    // Three of our leases pass without the Go record changing: still not ours, its lease is 30 s.
    expect(await tryLock(lock, 3000)).toBeNull();
    expect((await lock.describe())?.owner).toBe("go-agora-node");
    expect((await lock.describe())?.leaseMs).toBe(30_000);
    // dynamolock's release: SET isReleased = "1", conditional on owner and version.
    await client.send(
      new UpdateItemCommand({
        TableName: tables.locks,
        Key: { key: { S: key } },
        UpdateExpression: "SET #ir = :ir",
        ConditionExpression: "attribute_exists(#pk) AND #rvn = :rvn AND #on = :on",
        ExpressionAttributeNames: {
          "#ir": "isReleased",
          "#pk": "key",
          "#rvn": "recordVersionNumber",
          "#on": "ownerName",
        },
        ExpressionAttributeValues: { ":ir": { S: "1" }, ":rvn": { S: "goVersion1" }, ":on": { S: "go-agora-node" } },
      }),
    );
    const lease = await tryLock(lock, 5000);
    expect(lease).not.toBeNull();
    expect((await rawLock(key))?.ownerName?.S).toBe(lease?.owner);
  });

  it("is taken over once unchanged for the lease it states, counted from when we first saw it", async () => {
    const key = uniqueName("go-expired");
    await putGoRecord(goRecord(key, "go-agora-node", "goVersion1", "2s"));
    const lock = newLock(key, { leaseMs: 900 });
    const started = performance.now();
    const lease = await lock.lock(AbortSignal.timeout(20_000));
    expect(performance.now() - started).toBeGreaterThanOrEqual(2000 - 50);
    const item = await rawLock(key);
    expect(item?.ownerName?.S).toBe(lease.owner);
    expect(item?.leaseDuration?.S).toBe("900ms");
  });

  it("keeps blocking while the Go holder heartbeats, past the lease it states", async () => {
    const key = uniqueName("go-alive");
    await putGoRecord(goRecord(key, "go-agora-node", "goVersion0", "1s"));
    const lock = newLock(key);
    const stop = new AbortController();
    const heartbeats = (async () => {
      for (let i = 1; !stop.signal.aborted; i++) {
        await sleep(300, stop.signal).catch(() => {});
        if (stop.signal.aborted) break;
        await client.send(
          new UpdateItemCommand({
            TableName: tables.locks,
            Key: { key: { S: key } },
            UpdateExpression: "SET #rvn = :next",
            ExpressionAttributeNames: { "#rvn": "recordVersionNumber" },
            ExpressionAttributeValues: { ":next": { S: `goVersion${i}` } },
          }),
        );
      }
    })();
    try {
      expect(await tryLock(lock, 3000)).toBeNull();
    } finally {
      stop.abort();
      await heartbeats;
    }
    expect(await tryLock(lock, 10_000)).not.toBeNull();
  });
});
