// History-store write throughput against a real DynamoDB Local (started here, or DYNAMODB_ENDPOINT),
// beside the same items written with raw SDK calls at the same number of requests in flight, in the
// same run: rounds alternate between the variants so drift in the server or the machine hits all
// alike. Runs against the built dist.
import { randomBytes } from "node:crypto";
import { BatchWriteItemCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { pointerFromNumber } from "@tidemark/core";
import { createHistoryTables, DynamoDbHistoryStore } from "@tidemark/dynamodb";
import { startDynamoDbLocal } from "@tidemark/test-servers";

/** Requests in flight, for the store (its `concurrency`) and for the raw variants alike. */
const CONCURRENCY = 16;
/** Entries per variant and round; each has two accounts and a place in the global history. */
const ENTRIES = 1500;
const ROUNDS = 3;
/** Writes handed to the store at once, as `run` does with a few blocks in flight. */
const WRITES_IN_FLIGHT = 64;

const local = process.env.DYNAMODB_ENDPOINT ? null : await startDynamoDbLocal();
const endpoint = process.env.DYNAMODB_ENDPOINT ?? local.endpoint;
const client = new DynamoDBClient(
  local
    ? { endpoint, region: "us-east-1", credentials: { accessKeyId: "bench", secretAccessKey: "bench" } }
    : { endpoint },
);
const suffix = randomBytes(4).toString("hex");
const tables = {
  table: `bench-tx-by-hash-${suffix}`,
  accountTable: `bench-tx-by-account-${suffix}`,
  historyTable: `bench-tx-history-${suffix}`,
};

const encoder = new TextEncoder();
/** A codec for the bench's entries: ids, two accounts, block and index; the payload makes ~300 bytes. */
const codec = {
  transactionId: (entry) => encoder.encode(entry.id),
  accounts: (entry) => entry.accounts,
  orderingKey: (entry) => orderingKey(entry.block, entry.index),
  block: (entry) => pointerFromNumber(entry.block),
  encode: (entry) => encoder.encode(JSON.stringify(entry)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
};

function orderingKey(block, index) {
  const key = new Uint8Array(12);
  const view = new DataView(key.buffer);
  view.setBigUint64(0, BigInt(block));
  view.setUint32(8, index);
  return key;
}

let sequence = 0;
function entries(variant) {
  const out = [];
  for (let i = 0; i < ENTRIES; i++) {
    const n = sequence++;
    const block = Math.floor(n / 20);
    out.push({
      id: `${variant}-${suffix}-${n}`,
      block,
      index: n % 20,
      accounts: [`${variant}-sender-${n % 97}`, `${variant}-receiver-${n % 89}`],
      payload: "x".repeat(200),
    });
  }
  return out;
}

/** agora's items of one entry, as the raw variants send them. */
function itemsOf(entry) {
  const bytes = codec.encode(entry);
  const key = codec.orderingKey(entry);
  return {
    tx: { tx_hash: { B: codec.transactionId(entry) }, entry: { B: bytes } },
    others: [
      ...entry.accounts.map((account) => ({
        table: tables.accountTable,
        item: { account: { S: account }, ordering_key: { B: key }, entry: { B: bytes } },
      })),
      {
        table: tables.historyTable,
        item: {
          block_start: { N: String(Math.floor(entry.block / 10_000) * 10_000) },
          ordering_key: { B: key },
          entry: { B: bytes },
        },
      },
    ],
  };
}

const putTx = (tx) =>
  client.send(
    new PutItemCommand({ TableName: tables.table, Item: tx, ConditionExpression: "attribute_not_exists(tx_hash)" }),
  );

async function batchWrite(items) {
  let requestItems = {};
  for (const { table, item } of items) {
    requestItems[table] = [...(requestItems[table] ?? []), { PutRequest: { Item: item } }];
  }
  while (Object.keys(requestItems).length > 0) {
    const output = await client.send(new BatchWriteItemCommand({ RequestItems: requestItems }));
    requestItems = output.UnprocessedItems ?? {};
  }
}

/** Runs `tasks` (functions) with `CONCURRENCY` in flight. */
async function pool(tasks) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

const variants = {
  // agora's Write per entry: the conditional put, then its items in one batch (16 entries at a time).
  async raw_per_entry(list) {
    await pool(
      list.map((entry) => async () => {
        const { tx, others } = itemsOf(entry);
        await putTx(tx);
        await batchWrite(others);
      }),
    );
  },
  // The fewest requests raw calls can do it in: every conditional put, and the items packed 25 to a
  // batch, each batch queued right after the puts of its entries.
  async raw_packed(list) {
    const tasks = [];
    let items = [];
    for (const entry of list) {
      const { tx, others } = itemsOf(entry);
      tasks.push(() => putTx(tx));
      items.push(...others);
      if (items.length >= 25) {
        const batch = items.slice(0, 25);
        items = items.slice(25);
        tasks.push(() => batchWrite(batch));
      }
    }
    if (items.length > 0) tasks.push(() => batchWrite(items));
    await pool(tasks);
  },
  async store(list) {
    let next = 0;
    const writer = async () => {
      while (next < list.length) await store.write(list[next++]);
    };
    await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, writer));
  },
};

let store;
try {
  await createHistoryTables(client, tables);
  store = new DynamoDbHistoryStore({
    client,
    codec,
    ...tables,
    committed: async () => null,
    globalHistory: (entry) => BigInt(entry.block),
    concurrency: CONCURRENCY,
  });
  const elapsed = Object.fromEntries(Object.keys(variants).map((name) => [name, 0]));
  // Warm-up, not counted: the JIT of DynamoDB Local and of Node, connections, the store's table check.
  for (const [name, write] of Object.entries(variants)) await write(entries(`warm-${name}`));
  for (let round = 0; round < ROUNDS; round++) {
    // Each variant takes each place in the order once, so a server still speeding up favours none.
    const names = Object.keys(variants);
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      const list = entries(name);
      const started = performance.now();
      await variants[name](list);
      elapsed[name] += performance.now() - started;
    }
  }
  const rate = (name) => (ENTRIES * ROUNDS) / (elapsed[name] / 1000);
  const best = Math.max(rate("raw_per_entry"), rate("raw_packed"));
  console.log(`history_raw_put_item_and_batch_per_entry: ${rate("raw_per_entry").toFixed(0)} entries/s`);
  console.log(`history_raw_put_item_and_packed_batches: ${rate("raw_packed").toFixed(0)} entries/s`);
  console.log(`history_store_write: ${rate("store").toFixed(0)} entries/s`);
  console.log(`history_store_vs_best_raw: ${(rate("store") / best).toFixed(2)} ratio (target >= 0.8)`);
  console.log(
    `(${CONCURRENCY} requests in flight; ${ENTRIES * ROUNDS} entries per variant, 2 accounts and 1 history item each)`,
  );
} finally {
  await store?.close();
  client.destroy();
  await local?.close();
}
