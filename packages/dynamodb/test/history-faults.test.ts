// The history store under bad setups and faults. What DynamoDB Local never does on its own
// (throttling, unprocessed items, dropped connections) comes from the fault proxy in front of it.
import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import { type KitEntry, kitCodec, uniqueName } from "@tidemark/conformance";
import {
  BackendUnavailableError,
  ConfigurationError,
  CorruptRecordError,
  InvalidArgumentError,
  type Pointer,
  pointerFromNumber,
  pointerToBigInt,
  sleep,
} from "@tidemark/core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createHistoryTables, DynamoDbHistoryStore, type DynamoDbHistoryStoreOptions } from "../src/index.js";
import { FaultProxy, on } from "./fault-proxy.js";
import { destroyClient, newClient } from "./support.js";

let client: DynamoDBClient;
let proxy: FaultProxy;
const tables = {
  table: uniqueName("tx-by-hash"),
  accountTable: uniqueName("tx-by-account"),
  historyTable: uniqueName("tx-history"),
};
const stores: DynamoDbHistoryStore<KitEntry>[] = [];

beforeAll(async () => {
  client = newClient();
  await createHistoryTables(client, tables);
  proxy = await FaultProxy.start(inject("dynamodbEndpoint"));
});
afterEach(async () => {
  proxy.clear();
  for (const store of stores.splice(0)) await store.close();
});
afterAll(async () => {
  await proxy?.close();
  if (client) destroyClient(client);
});

/** A client whose requests go through the fault proxy; one attempt, so only the store's own retries count. */
function proxied(maxAttempts = 1): DynamoDBClient {
  return newClient({ endpoint: proxy.url, config: { maxAttempts } });
}

/** The committed pointer the stores of a test read, moved by the test. */
const committed: { pointer: Pointer | null } = { pointer: null };

function store(options: Partial<DynamoDbHistoryStoreOptions<KitEntry>> = {}): DynamoDbHistoryStore<KitEntry> {
  const created = new DynamoDbHistoryStore<KitEntry>({
    client,
    codec: kitCodec,
    ...tables,
    committed: async () => committed.pointer,
    globalHistory: (entry) => BigInt(entry.block),
    blockOfPointer: pointerToBigInt,
    ...options,
  });
  stores.push(created);
  return created;
}

function entry(block: number, accounts: number, extra: Partial<KitEntry> = {}): KitEntry {
  const id = uniqueName("tx");
  return {
    id,
    block,
    index: 0,
    accounts: Array.from({ length: accounts }, (_, i) => `${id}-acct-${i}`),
    payload: `payload of ${id}`,
    revision: 0,
    ...extra,
  };
}

const idOf = (e: KitEntry) => new TextEncoder().encode(e.id);

async function rawTransaction(e: KitEntry) {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: tables.table, Key: { tx_hash: { B: idOf(e) } }, ConsistentRead: true }),
  );
  return Item;
}

async function rawAccountItems(account: string, table = tables.accountTable) {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: "account = :a",
      ExpressionAttributeValues: { ":a": { S: account } },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

/** How many of the entry's account items are stored. */
async function storedAccounts(e: KitEntry): Promise<number> {
  let count = 0;
  for (const account of e.accounts) count += (await rawAccountItems(account)).length;
  return count;
}

async function errorOf(attempt: Promise<unknown>): Promise<Error> {
  return attempt.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: Error) => error,
  );
}

describe("a missing table or another key schema", () => {
  it("is a ConfigurationError naming the missing table, before anything is written", async () => {
    const missing = uniqueName("no-such-tx-by-account");
    const s = store({ accountTable: missing });
    const e = entry(1, 2);
    const error = await errorOf(s.write(e));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`"${missing}"`);
    expect(error.message).toMatch(/createHistoryTables\(\)/);
    expect(error.message).toMatch(/hash key "account" of type S and range key "ordering_key" of type B/);
    expect(await rawTransaction(e), "nothing in tx-by-hash").toBeUndefined();
    await expect(s.getAccountHistory("anyone")).rejects.toBeInstanceOf(ConfigurationError);
    await expect(s.verify()).rejects.toThrow(missing);
  });

  it("is a ConfigurationError naming a table with another key schema, for the store and createHistoryTables", async () => {
    const wrong = uniqueName("flat-tx-history");
    await client.send(
      new CreateTableCommand({
        TableName: wrong,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: "block_start", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "block_start", AttributeType: "S" }],
      }),
    );
    const s = store({ historyTable: wrong });
    const e = entry(1, 1);
    const error = await errorOf(s.write(e));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`table "${wrong}" exists with HASH "block_start" of type S`);
    expect(error.message).toContain(`hash key "block_start" of type N and range key "ordering_key" of type B`);
    expect(await rawTransaction(e)).toBeUndefined();
    await expect(createHistoryTables(client, { ...tables, historyTable: wrong })).rejects.toThrow(
      new RegExp(`"${wrong}" exists with`),
    );
    // Without globalHistory the history table is never used, so neither checked.
    await store({ historyTable: wrong, globalHistory: undefined }).write(e);
    expect(await rawTransaction(e)).toBeDefined();
  });

  it("is reported by the first request when verifyTables is off", async () => {
    const missing = uniqueName("no-such-tx-by-hash");
    const error = await errorOf(store({ table: missing, verifyTables: false }).write(entry(1, 1)));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`"${missing}"`);
  });

  it("refuses bad options, and range reads without the block mapping", async () => {
    for (const options of [
      { concurrency: 0 },
      { table: "" },
      { retry: { maxAttempts: 0 } },
      { committed: undefined },
    ]) {
      expect(() => store(options as never), JSON.stringify(options)).toThrow(InvalidArgumentError);
    }
    const plain = store({ globalHistory: undefined });
    await expect(plain.getBlockRange(pointerFromNumber(1), pointerFromNumber(2))).rejects.toThrow(
      /needs the globalHistory and blockOfPointer options/,
    );
  });
});

describe("batches DynamoDB does not fully process", () => {
  it("retries a throttled BatchWriteItem until it completes", async () => {
    const throttled = proxy.add({ match: on("BatchWriteItem"), fault: "throttle", times: 3 });
    const e = entry(1, 30);
    await store({ client: proxied() }).write(e);
    expect(throttled.hits).toBe(3);
    expect(await storedAccounts(e)).toBe(30);
  });

  it("sends unprocessed items and keys again until they are processed", async () => {
    const writes = proxy.add({ match: on("BatchWriteItem"), fault: "unprocessed", times: 2 });
    const reads = proxy.add({ match: on("BatchGetItem"), fault: "unprocessed", times: 2 });
    const e = entry(1, 3);
    const before = proxy.seen.length;
    await store({ client: proxied() }).write(e);
    expect([writes.hits, reads.hits]).toEqual([2, 2]);
    expect(await storedAccounts(e)).toBe(3);
    // Retried where they were left, not by writing the whole entry again.
    const sent = proxy.seen.slice(before).map((request) => request.operation);
    expect(sent.filter((operation) => operation !== "DescribeTable")).toEqual([
      "PutItem",
      "BatchWriteItem",
      "BatchWriteItem",
      "BatchWriteItem",
      "BatchGetItem",
      "BatchGetItem",
      "BatchGetItem",
    ]);
  });

  it("gives up after retry.maxAttempts with a BackendUnavailableError naming the table", async () => {
    const left = proxy.add({ match: on("BatchWriteItem"), fault: "unprocessed" });
    const s = store({ client: proxied(), retry: { maxAttempts: 3, initialBackoffMs: 1 } });
    const error = await errorOf(s.write(entry(1, 2)));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toContain(`"${tables.accountTable}"`);
    expect(error.message).toMatch(/unprocessed after 3 attempts/);
    expect(left.hits).toBe(3);
  });
});

describe("a write that fails half-way", () => {
  it("rejects with BackendUnavailableError when the connection drops mid-batch; writing it again completes it", async () => {
    let batches = 0;
    const dropped = proxy.add({ match: (request) => on("BatchWriteItem")(request) && ++batches === 2, fault: "drop" });
    const s = store({ client: proxied() });
    const e = entry(7, 60);
    const error = await errorOf(s.write(e));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(dropped.hits).toBe(1);
    const partial = await storedAccounts(e);
    expect(partial, "some account items landed, not all").toBeGreaterThan(0);
    expect(partial).toBeLessThan(60);
    // run never commits a block whose writes failed, so the part stays invisible.
    committed.pointer = pointerFromNumber(6);
    expect(await s.getTransaction(idOf(e))).toBeNull();
    await s.write(e);
    expect(await storedAccounts(e)).toBe(60);
    committed.pointer = pointerFromNumber(7);
    expect(await s.getTransaction(idOf(e))).toEqual(e);
  });

  it("rejects with the abort reason when aborted mid-way, and writing it again completes it", async () => {
    const controller = new AbortController();
    const reason = new Error("shutting down");
    // Aborts the moment the account batch reaches the proxy, after the transaction item went in.
    proxy.add({
      match: (request) => {
        if (request.operation === "BatchWriteItem") controller.abort(reason);
        return false;
      },
      fault: "drop",
    });
    const s = store({ client: proxied() });
    const e = entry(8, 3);
    await expect(s.write(e, { signal: controller.signal })).rejects.toBe(reason);
    expect(await rawTransaction(e), "the transaction item was written first").toBeDefined();
    proxy.clear();
    await s.write(e);
    expect(await storedAccounts(e)).toBe(3);
  });

  it("refuses an entry whose items exceed DynamoDB's 400 KB before writing anything", async () => {
    const e = entry(1, 1);
    const large = { ...e, payload: "x".repeat(400 * 1024) };
    await expect(store().write(large)).rejects.toThrow(/more than DynamoDB's 409600/);
    expect(await rawTransaction(large)).toBeUndefined();
  });
});

describe("stored data the codec cannot read", () => {
  const put = (table: string, item: Record<string, AttributeValue>) =>
    client.send(new PutItemCommand({ TableName: table, Item: item }));

  it("is a CorruptRecordError naming the table and the key, for reads and for a second write", async () => {
    committed.pointer = pointerFromNumber(100);
    const e = entry(1, 1);
    await put(tables.table, { tx_hash: { B: idOf(e) }, entry: { B: new TextEncoder().encode("{not json") } });
    const s = store();
    const hex = Buffer.from(idOf(e)).toString("hex");
    for (const attempt of [s.getTransaction(idOf(e)), s.write(e)]) {
      const error = await errorOf(attempt);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error.message).toContain(`"${tables.table}"`);
      expect(error.message).toContain(`tx_hash ${hex}`);
    }
    const account = e.accounts[0] as string;
    await put(tables.accountTable, {
      account: { S: account },
      ordering_key: { B: Uint8Array.of(1) },
      entry: { S: "?" },
    });
    const error = await errorOf(s.getAccountHistory(account));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error.message).toContain(`account "${account}" ordering_key 01 in table "${tables.accountTable}"`);
    expect(error.message).toMatch(/"entry" attribute of type S, expected binary/);
  });
});

describe("concurrency and lifecycle", () => {
  it("keeps at most `concurrency` requests in flight across writes, and uses them", async () => {
    const counted = proxied(3);
    let inFlight = 0;
    let most = 0;
    counted.middlewareStack.add(
      (next) => async (args) => {
        most = Math.max(most, ++inFlight);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: "finalizeRequest" },
    );
    const s = store({ client: counted, concurrency: 3 });
    const entries = Array.from({ length: 40 }, (_, i) => entry(1, 2, { index: i }));
    await Promise.all(entries.map((e) => s.write(e)));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
    for (const e of entries.slice(0, 5)) expect(await storedAccounts(e)).toBe(2);
  });

  it("brings every item in line with the stored version when a replacing writer overtakes the first one", async () => {
    // The first writer's account batch is held back on its way; meanwhile a second writer replaces the
    // entry and writes its own items. The held batch then lands with the older version, and only the
    // first writer's read-back of the transaction item can notice.
    const held = proxy.add({ match: on("BatchWriteItem"), fault: "delay", delayMs: 1000, times: 1 });
    const first = store({ client: proxied() });
    const second = store();
    const e = entry(3, 2);
    const writing = first.write(e);
    while (held.hits === 0) await sleep(10);
    await second.write({ ...e, revision: 1 });
    await writing;
    const expected = Buffer.from(kitCodec.encode({ ...e, revision: 1 }));
    expect(Buffer.from((await rawTransaction(e))?.entry?.B ?? [])).toEqual(expected);
    for (const account of e.accounts) {
      const items = await rawAccountItems(account);
      expect(
        items.map((item) => Buffer.from(item.entry?.B ?? [])),
        account,
      ).toEqual([expected]);
    }
  });

  it("close() waits for the writes in flight, is idempotent, refuses calls afterwards and leaves the client open", async () => {
    const s = store();
    const e = entry(1, 2);
    const writing = s.write(e);
    await s.close();
    await writing;
    expect(await storedAccounts(e)).toBe(2);
    await s.close();
    await expect(s.write(entry(1, 1))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(s.getTransaction(idOf(e))).rejects.toThrow(/used after close/);
    committed.pointer = pointerFromNumber(1);
    expect(await store().getTransaction(idOf(e))).toEqual(e);
  });
});
