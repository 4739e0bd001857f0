// Bad input and faults: what DynamoDB Local never does on its own comes from the fault proxy in front of it.
import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { uniqueName } from "@tidemark/conformance";
import {
  BackendUnavailableError,
  ConfigurationError,
  CorruptRecordError,
  InvalidArgumentError,
  InvalidCommitError,
  pointerFromNumber,
  sleep,
} from "@tidemark/core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { createTables, DynamoDbCommitter, DynamoDbLock } from "../src/index.js";
import { FaultProxy, on } from "./fault-proxy.js";
import { destroyClient, freshTables, newClient } from "./support.js";

const p = pointerFromNumber;
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

/** A client whose requests go through the fault proxy. */
function proxied(maxAttempts = 3): DynamoDBClient {
  return newClient({ endpoint: proxy.url, config: { maxAttempts } });
}

async function rawItem(table: string, key: Record<string, AttributeValue>) {
  const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
  return Item;
}

const isHeartbeat = (body: Record<string, unknown>) => String(body.UpdateExpression).includes(":next");

describe("a missing table", () => {
  it("is a ConfigurationError naming the table and how to create it, for the committer", async () => {
    const table = uniqueName("no-such-commits");
    const committer = new DynamoDbCommitter({ client, table });
    for (const attempt of [() => committer.commit("a", null, p(1)), () => committer.latest("a")]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(String((error as Error).message)).toContain(`"${table}"`);
      expect(String((error as Error).message)).toMatch(/createTables\(\)/);
      expect(String((error as Error).message)).toMatch(/hash key "ingestor" of type S/);
    }
  });

  it("is a ConfigurationError for the lock, and for a fenced commit whose lock table is gone", async () => {
    const table = uniqueName("no-such-locks");
    const lock = new DynamoDbLock({ client, key: "k", table, heartbeatMs: 300 });
    const error = await lock.lock(AbortSignal.timeout(10_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String((error as Error).message)).toMatch(new RegExp(`"${table}".*hash key "key" of type S`));
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const fake = { signal: new AbortController().signal, token: null, owner: "x", table, key: "k" };
    await expect(committer.commit(uniqueName("fenced"), null, p(1), { lease: fake })).rejects.toBeInstanceOf(
      ConfigurationError,
    );
  });
});

describe("options", () => {
  it("default to agora's 30 s lease and 10 s heartbeat, and keep dynamolock's lease rule", () => {
    const lock = new DynamoDbLock({ client, key: "k" });
    expect(lock.timings).toMatchObject({ leaseMs: 30_000, heartbeatMs: 10_000, pollMs: 1000, requestTimeoutMs: 5000 });
    expect(lock.table).toBe("tx-history-locks");
    for (const [what, options] of [
      ["lease under two heartbeats", { leaseMs: 1000, heartbeatMs: 600, safetyMarginMs: 100 }],
      ["lease not a whole number", { leaseMs: 1500.5 }],
      ["no client", { client: undefined }],
      ["empty table", { table: "" }],
    ] as const) {
      expect(() => new DynamoDbLock({ client, key: "k", ...options } as never), what).toThrow(InvalidArgumentError);
    }
  });

  it("close() of a committer is idempotent and leaves the client usable by others", async () => {
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    await committer.close();
    await committer.close();
    await expect(committer.commit("a", null, p(1))).rejects.toBeInstanceOf(InvalidArgumentError);
    const other = new DynamoDbCommitter({ client, table: tables.commits });
    expect(await other.latest(uniqueName("after-close"))).toBeNull();
  });
});

describe("an unreachable endpoint", () => {
  it("is a BackendUnavailableError (waiting may help), never a ConfigurationError, for lock and committer", async () => {
    const closed = await FaultProxy.start(inject("dynamodbEndpoint"));
    const url = closed.url;
    await closed.close();
    const nowhere = newClient({ endpoint: url, config: { maxAttempts: 1 } });
    try {
      const lock = new DynamoDbLock({ client: nowhere, key: "k", table: tables.locks, heartbeatMs: 300 });
      const committer = new DynamoDbCommitter({ client: nowhere, table: tables.commits });
      for (const [what, attempt] of [
        ["lock()", () => lock.lock(AbortSignal.timeout(10_000))],
        ["commit()", () => committer.commit("a", null, p(1))],
        ["latest()", () => committer.latest("a")],
      ] as const) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error, what).toBeInstanceOf(BackendUnavailableError);
        expect(String((error as Error).message), what).toMatch(/got no answer.*ECONNREFUSED/);
      }
    } finally {
      destroyClient(nowhere);
    }
  });
});

describe("createTables", () => {
  it("is idempotent, and refuses a table with another key schema", async () => {
    await createTables(client, { commitsTable: tables.commits, locksTable: tables.locks });
    const wrong = uniqueName("wrong-schema");
    await client.send(
      new CreateTableCommand({
        TableName: wrong,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      }),
    );
    const error = await createTables(client, { commitsTable: wrong, locksTable: tables.locks }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String((error as Error).message)).toMatch(new RegExp(`"${wrong}".*HASH "id".*expected.*"ingestor"`));
  });
});

describe("throttling", () => {
  it("is retried by the SDK", async () => {
    const committer = new DynamoDbCommitter({ client: proxied(3), table: tables.commits });
    const ingestor = uniqueName("throttled-once");
    const rule = proxy.add({ match: on("UpdateItem", tables.commits), fault: "throttle", times: 2 });
    await committer.commit(ingestor, null, p(1));
    expect(rule.hits).toBe(2);
    expect((await rawItem(tables.commits, { ingestor: { S: ingestor } }))?.latest?.B).toEqual(p(1));
  });

  it("surfaces once the SDK gives up, as a BackendUnavailableError naming the table; nothing written", async () => {
    const committer = new DynamoDbCommitter({ client: proxied(2), table: tables.commits });
    const ingestor = uniqueName("throttled");
    const rule = proxy.add({ match: on("UpdateItem", tables.commits), fault: "throttle" });
    const error = await committer.commit(ingestor, null, p(1)).catch((e: unknown) => e);
    expect(rule.hits).toBe(2);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(String((error as Error).message)).toMatch(
      new RegExp(
        `dynamodb: UpdateItem of ingestor "${ingestor}" in table "${tables.commits}" was throttled after 2 attempts`,
      ),
    );
    expect(await rawItem(tables.commits, { ingestor: { S: ingestor } })).toBeUndefined();
  });
});

describe("expired credentials", () => {
  it("are a ConfigurationError naming the table; nothing written", async () => {
    const committer = new DynamoDbCommitter({ client: proxied(), table: tables.commits });
    const ingestor = uniqueName("expired");
    proxy.add({ match: on("UpdateItem", tables.commits), fault: "expired" });
    const error = await committer.commit(ingestor, null, p(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String((error as Error).message)).toMatch(/ExpiredTokenException.*credentials/);
    expect(String((error as Error).message)).toContain(`"${tables.commits}"`);
    expect(await rawItem(tables.commits, { ingestor: { S: ingestor } })).toBeUndefined();
  });
});

describe("malformed items", () => {
  it("a latest that is not binary is a CorruptRecordError for latest() and commit(), and is left alone", async () => {
    const committer = new DynamoDbCommitter({ client, table: tables.commits });
    const ingestor = uniqueName("string-latest");
    const item = { ingestor: { S: ingestor }, latest: { S: "0000002a" } };
    await client.send(new PutItemCommand({ TableName: tables.commits, Item: item }));
    await expect(committer.latest(ingestor)).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(committer.latest(ingestor)).rejects.toThrow(/"latest" of type S, expected non-empty binary/);
    await expect(committer.commit(ingestor, null, p(1))).rejects.toBeInstanceOf(CorruptRecordError);
    await expect(committer.commit(ingestor, p(42), p(43))).rejects.toBeInstanceOf(CorruptRecordError);
    expect(await rawItem(tables.commits, { ingestor: { S: ingestor } })).toEqual(item);
  });

  it("a leaseDuration Go cannot parse, or a missing owner, is a CorruptRecordError for lock(); nothing written", async () => {
    for (const [what, extra] of [
      [
        "unparsable lease",
        { ownerName: { S: "go" }, recordVersionNumber: { S: "v" }, leaseDuration: { S: "thirty seconds" } },
      ],
      ["lease without unit", { ownerName: { S: "go" }, recordVersionNumber: { S: "v" }, leaseDuration: { S: "30" } }],
      ["no owner", { recordVersionNumber: { S: "v" }, leaseDuration: { S: "30s" } }],
    ] as const) {
      const key = uniqueName("corrupt-lock");
      const item = { key: { S: key }, ...extra };
      await client.send(new PutItemCommand({ TableName: tables.locks, Item: item }));
      const lock = new DynamoDbLock({ client, key, table: tables.locks, heartbeatMs: 300 });
      locks.push(lock);
      const error = await lock.lock(AbortSignal.timeout(10_000)).catch((e: unknown) => e);
      expect(error, what).toBeInstanceOf(CorruptRecordError);
      expect(String((error as Error).message), what).toContain(`lock record "${key}" in table "${tables.locks}"`);
      await expect(lock.describe(), what).rejects.toBeInstanceOf(CorruptRecordError);
      expect(await rawItem(tables.locks, { key: { S: key } }), what).toEqual(item);
    }
  });
});

describe("ambiguous outcomes", () => {
  for (const [fault, maxAttempts] of [
    ["dropAfterForward", 3],
    ["dropAfterForward", 1],
    ["error500AfterForward", 1],
  ] as const) {
    it(`a heartbeat applied but unanswered (${fault}, ${maxAttempts} SDK attempt(s)) keeps the lock`, async () => {
      const key = uniqueName("ambiguous-heartbeat");
      const lock = new DynamoDbLock({
        client: proxied(maxAttempts),
        key,
        table: tables.locks,
        heartbeatMs: 300,
        leaseMs: 1500,
      });
      locks.push(lock);
      const lease = await lock.lock(AbortSignal.timeout(10_000));
      const rule = proxy.add({ match: on("UpdateItem", tables.locks, isHeartbeat), fault, times: 1 });
      const before = (await rawItem(tables.locks, { key: { S: key } }))?.recordVersionNumber?.S;
      await sleep(2000);
      expect(rule.hits).toBe(1);
      expect(lease.signal.aborted, String(lease.signal.reason)).toBe(false);
      // Renewals went on: the last confirmed one is recent (well within the lease).
      expect(performance.now() - (lock.lastRenewedAt ?? 0)).toBeLessThan(1500);
      const after = await rawItem(tables.locks, { key: { S: key } });
      expect(after?.ownerName?.S).toBe(lease.owner);
      expect(after?.recordVersionNumber?.S).not.toBe(before);
    });
  }

  it("a commit applied but unanswered is a success once the SDK's retry finds the block stored", async () => {
    const committer = new DynamoDbCommitter({ client: proxied(3), table: tables.commits });
    const ingestor = uniqueName("ambiguous-commit");
    await committer.commit(ingestor, null, p(1));
    const rule = proxy.add({ match: on("UpdateItem", tables.commits), fault: "dropAfterForward", times: 1 });
    await committer.commit(ingestor, p(1), p(2));
    expect(rule.hits).toBe(1);
    // A genuinely stale commit is still rejected.
    await expect(committer.commit(ingestor, p(1), p(3))).rejects.toBeInstanceOf(InvalidCommitError);
    expect((await rawItem(tables.commits, { ingestor: { S: ingestor } }))?.latest?.B).toEqual(p(2));
  });

  it("a commit unanswered with no SDK retry left is settled by reading back what is stored", async () => {
    const committer = new DynamoDbCommitter({ client: proxied(1), table: tables.commits });
    const ingestor = uniqueName("settled-commit");
    await committer.commit(ingestor, null, p(1));
    // Applied, answer lost: the stored block says it went through.
    proxy.add({ match: on("UpdateItem", tables.commits), fault: "dropAfterForward", times: 1 });
    await committer.commit(ingestor, p(1), p(2));
    // Never forwarded: the stored parent says it did not.
    proxy.add({ match: on("UpdateItem", tables.commits), fault: "drop", times: 1 });
    const error = await committer.commit(ingestor, p(2), p(3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(String((error as Error).message)).toMatch(/still the parent/);
    expect((await rawItem(tables.commits, { ingestor: { S: ingestor } }))?.latest?.B).toEqual(p(2));
    // Another commit won meanwhile: a rejection, as if it had been answered.
    await client.send(
      new PutItemCommand({ TableName: tables.commits, Item: { ingestor: { S: ingestor }, latest: { B: p(9) } } }),
    );
    proxy.add({ match: on("UpdateItem", tables.commits), fault: "drop", times: 1 });
    await expect(committer.commit(ingestor, p(2), p(3))).rejects.toBeInstanceOf(InvalidCommitError);
  });

  it("a fenced commit unanswered with no SDK retry left is settled by reading back what is stored", async () => {
    const committer = new DynamoDbCommitter({ client: proxied(1), table: tables.commits });
    const lock = new DynamoDbLock({ client, key: uniqueName("fenced-settled"), table: tables.locks, heartbeatMs: 300 });
    locks.push(lock);
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const ingestor = uniqueName("fenced-settled");
    proxy.add({ match: on("TransactWriteItems"), fault: "error500AfterForward", times: 1 });
    await committer.commit(ingestor, null, p(5), { lease });
    proxy.add({ match: on("TransactWriteItems"), fault: "drop", times: 1 });
    await expect(committer.commit(ingestor, p(5), p(6), { lease })).rejects.toBeInstanceOf(BackendUnavailableError);
    expect((await rawItem(tables.commits, { ingestor: { S: ingestor } }))?.latest?.B).toEqual(p(5));
  });

  it("a fenced commit applied but unanswered is a success: the SDK retries with the same request token", async () => {
    const viaProxy = proxied(3);
    const committer = new DynamoDbCommitter({ client: viaProxy, table: tables.commits });
    const lock = new DynamoDbLock({
      client,
      key: uniqueName("fenced-ambiguous"),
      table: tables.locks,
      heartbeatMs: 300,
    });
    locks.push(lock);
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const ingestor = uniqueName("fenced-ambiguous");
    const rule = proxy.add({ match: on("TransactWriteItems"), fault: "dropAfterForward", times: 1 });
    await committer.commit(ingestor, null, p(5), { lease });
    expect(rule.hits).toBe(1);
    expect((await rawItem(tables.commits, { ingestor: { S: ingestor } }))?.latest?.B).toEqual(p(5));
  });

  it("an acquisition applied but unanswered is recognised by its owner name", async () => {
    const key = uniqueName("ambiguous-acquire");
    const lock = new DynamoDbLock({ client: proxied(1), key, table: tables.locks, heartbeatMs: 300 });
    locks.push(lock);
    const rule = proxy.add({ match: on("PutItem", tables.locks), fault: "dropAfterForward", times: 1 });
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    expect(rule.hits).toBe(1);
    expect((await rawItem(tables.locks, { key: { S: key } }))?.ownerName?.S).toBe(lease.owner);
  });
});
