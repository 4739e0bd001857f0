// What the history store writes must be what agora v0.2.7's Go history store writes and reads
// (pkg/transaction/history/dynamodb), item for item, with the real Kin codec; and what agora wrote
// must read back through the store.
import { randomBytes, randomInt } from "node:crypto";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import { uniqueName } from "@tidemark/conformance";
import { DoubleInsertError, type Pointer } from "@tidemark/core";
import {
  agoraAccounts,
  type Entry,
  encodeEntry,
  kinHistoryCodec,
  orderingKey,
  orderingKeyOfSlot,
  solanaBody,
  solanaPointer,
  stellarPointer,
  transactionId,
} from "@tidemark/kin";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHistoryTables, DynamoDbHistoryStore } from "../src/index.js";
import { kinGlobalHistory, solanaEntry, stellarEntry, transferTransaction } from "./kin-entries.js";
import { newClient } from "./support.js";

let client: DynamoDBClient;
const tables = {
  table: uniqueName("tx-by-hash"),
  accountTable: uniqueName("tx-by-account"),
  historyTable: uniqueName("tx-history"),
};
const stores: DynamoDbHistoryStore<Entry>[] = [];

beforeAll(async () => {
  client = newClient();
  await createHistoryTables(client, tables);
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** A Kin store whose committed pointer is whatever `committed` holds at the time of the read. */
function kinStore(committed: { pointer: Pointer | null }): DynamoDbHistoryStore<Entry> {
  const store = new DynamoDbHistoryStore({
    client,
    codec: kinHistoryCodec,
    ...tables,
    ...kinGlobalHistory,
    committed: async () => committed.pointer,
  });
  stores.push(store);
  return store;
}

/** A slot in a partition no other test uses. */
const freshSlot = () => BigInt(randomInt(1, 2 ** 40)) * 10_000n + 1234n;
const key32 = () => new Uint8Array(randomBytes(32));

async function rawGet(table: string, key: Record<string, AttributeValue>) {
  const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
  return Item;
}

async function rawAccountItems(account: string) {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tables.accountTable,
      KeyConditionExpression: "account = :account",
      ExpressionAttributeValues: { ":account": { S: account } },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

/** agora's GetTransactions query for one partition, verbatim. */
async function goHistoryQuery(blockStart: bigint, from: bigint, max: bigint) {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tables.historyTable,
      KeyConditionExpression: "block_start = :block_start and ordering_key between :from and :max",
      ExpressionAttributeValues: {
        ":block_start": { N: blockStart.toString() },
        ":from": { B: orderingKeyOfSlot(from, "first") },
        ":max": { B: orderingKeyOfSlot(max, "last") },
      },
      ScanIndexForward: true,
    }),
  );
  return Items ?? [];
}

/** The attribute names and their DynamoDB types, e.g. `{ tx_hash: "B", entry: "B" }`. */
function shape(item: Record<string, AttributeValue> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(item ?? {})) {
    out[name] = Object.entries(value).find(([, v]) => v !== undefined)?.[0] ?? "?";
  }
  return out;
}

const bytes = (value: Uint8Array | undefined) => Buffer.from(value ?? []);

describe("what the store writes is agora's layout", () => {
  it("lists a confirmed Solana entry in tx-by-hash, tx-by-account and tx-history, as agora's Write does", async () => {
    const slot = freshSlot();
    const entry = solanaEntry(slot, transferTransaction(key32(), key32()));
    await kinStore({ pointer: null }).write(entry);
    const id = transactionId(entry);
    const encoded = encodeEntry(entry);
    const key = orderingKey(entry);
    expect(key.length, "agora's Solana ordering key: version, slot, 8 bytes of the signature").toBe(17);

    const tx = await rawGet(tables.table, { tx_hash: { B: id } });
    expect(shape(tx)).toEqual({ tx_hash: "B", entry: "B" });
    expect(bytes(tx?.entry?.B)).toEqual(Buffer.from(encoded));

    // agora's accounts (Stellar strkeys of the transfer's source and destination), and the Kin codec's
    // base58 token accounts and owner besides: more items in the same layout, each shaped as agora's.
    const accounts = agoraAccounts(entry);
    expect(accounts).toHaveLength(2);
    expect(kinHistoryCodec.accounts(entry).slice(0, 2)).toEqual(accounts);
    for (const account of kinHistoryCodec.accounts(entry)) {
      const items = await rawAccountItems(account);
      expect(items.map(shape), account).toEqual([{ account: "S", ordering_key: "B", entry: "B" }]);
      expect(bytes(items[0]?.ordering_key?.B)).toEqual(Buffer.from(key));
      expect(bytes(items[0]?.entry?.B)).toEqual(Buffer.from(encoded));
    }

    const blockStart = (slot / 10_000n) * 10_000n;
    const history = await rawGet(tables.historyTable, {
      block_start: { N: blockStart.toString() },
      ordering_key: { B: key },
    });
    expect(shape(history)).toEqual({ block_start: "N", ordering_key: "B", entry: "B" });
    expect(history?.block_start?.N).toBe(blockStart.toString());
    expect(bytes(history?.entry?.B)).toEqual(Buffer.from(encoded));
    // A Go reader's GetTransactions query finds it where agora would.
    expect((await goHistoryQuery(blockStart, slot, slot)).map((item) => bytes(item.entry?.B))).toEqual([
      Buffer.from(encoded),
    ]);
  });

  it("leaves unconfirmed Solana entries and Stellar entries out of tx-history, as agora does", async () => {
    const slot = freshSlot();
    const unconfirmed = solanaEntry(slot, transferTransaction(key32(), key32()), false);
    const stellar = stellarEntry();
    const store = kinStore({ pointer: solanaPointer(slot) });
    await store.write(unconfirmed);
    await store.write(stellar);
    for (const entry of [unconfirmed, stellar]) {
      const tx = await rawGet(tables.table, { tx_hash: { B: transactionId(entry) } });
      expect(bytes(tx?.entry?.B)).toEqual(Buffer.from(encodeEntry(entry)));
      for (const account of agoraAccounts(entry)) {
        const items = await rawAccountItems(account);
        expect(items.some((item) => bytes(item.ordering_key?.B).equals(orderingKey(entry)))).toBe(true);
      }
    }
    expect(await goHistoryQuery((slot / 10_000n) * 10_000n, slot, slot)).toEqual([]);
    // Stellar's ordering key is 9 bytes (version 3 and the paging token), so no partition of Solana slots holds it.
    expect(orderingKey(stellar)).toEqual(Uint8Array.of(3, 0, 0, 0, 3, 0, 0, 16, 0));
  });

  it("replaces an unconfirmed entry by its confirmed version everywhere, moving its items to the new slot", async () => {
    const slot = freshSlot();
    const transaction = transferTransaction(key32(), key32());
    const pending = solanaEntry(slot, transaction, false);
    const confirmed = solanaEntry(slot + 3n, transaction);
    const store = kinStore({ pointer: solanaPointer(slot + 10n) });
    await store.write(pending);
    await store.write(confirmed);
    // The older view arriving late changes nothing (agora refuses it: confirmed cannot become unconfirmed).
    await expect(store.write(pending)).rejects.toBeInstanceOf(DoubleInsertError);

    const id = transactionId(confirmed);
    expect(bytes((await rawGet(tables.table, { tx_hash: { B: id } }))?.entry?.B)).toEqual(
      Buffer.from(encodeEntry(confirmed)),
    );
    for (const account of agoraAccounts(confirmed)) {
      const items = await rawAccountItems(account);
      expect(
        items.map((item) => bytes(item.ordering_key?.B)),
        "only the new slot's key",
      ).toEqual([Buffer.from(orderingKey(confirmed))]);
      expect(bytes(items[0]?.entry?.B)).toEqual(Buffer.from(encodeEntry(confirmed)));
      expect(await store.getAccountHistory(account)).toEqual([confirmed]);
    }
    expect(await goHistoryQuery((slot / 10_000n) * 10_000n, slot, slot + 3n)).toHaveLength(1);
    expect(await store.getBlockRange(solanaPointer(slot), solanaPointer(slot + 5n))).toEqual([confirmed]);
  });

  it("reads Solana entries by slot range across partitions, in ordering-key order", async () => {
    const base = freshSlot() - 1234n + 9_998n;
    const entries = [base, base + 1n, base + 2n, base + 3n].map((slot) =>
      solanaEntry(slot, transferTransaction(key32(), key32())),
    );
    const store = kinStore({ pointer: solanaPointer(base + 2n) });
    for (const entry of [...entries].reverse()) await store.write(entry);
    // base and base + 1 lie in one partition, base + 2 and base + 3 in the next; base + 3 is not committed.
    expect(await store.getBlockRange(solanaPointer(base), solanaPointer(base + 3n))).toEqual(entries.slice(0, 3));
    expect(await store.getBlockRange(solanaPointer(base + 1n), solanaPointer(base + 1n))).toEqual([entries[1]]);
  });
});

describe("what agora wrote reads back through the store", () => {
  /** agora's Write, request for request: conditional put, tx-history for confirmed Solana, then account batches. */
  async function goWrite(entry: Entry): Promise<void> {
    const id = transactionId(entry);
    const encoded = encodeEntry(entry);
    const key = orderingKey(entry);
    await client.send(
      new PutItemCommand({
        TableName: tables.table,
        ConditionExpression: "attribute_not_exists(tx_hash)",
        Item: { tx_hash: { B: id }, entry: { B: encoded } },
      }),
    );
    if (entry.kind.case === "solana" && entry.kind.value.confirmed) {
      const blockStart = (entry.kind.value.slot / 10_000n) * 10_000n;
      await client.send(
        new PutItemCommand({
          TableName: tables.historyTable,
          Item: { block_start: { N: blockStart.toString() }, ordering_key: { B: key }, entry: { B: encoded } },
        }),
      );
    }
    const accounts = agoraAccounts(entry);
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [tables.accountTable]: accounts.map((account) => ({
            PutRequest: { Item: { account: { S: account }, ordering_key: { B: key }, entry: { B: encoded } } },
          })),
        },
      }),
    );
  }

  it("finds Go-written Solana and Stellar entries by id, account and slot range, under the committed pointer", async () => {
    const slot = freshSlot();
    const source = key32();
    const first = solanaEntry(slot, transferTransaction(source, key32()));
    const second = solanaEntry(slot + 1n, transferTransaction(source, key32()));
    const stellar = stellarEntry();
    for (const entry of [first, second]) await goWrite(entry);
    // The Stellar pubnet entry may already be there from another run against the same tables.
    await goWrite(stellar).catch((error: Error) => expect(error.name).toBe("ConditionalCheckFailedException"));
    const committed = { pointer: solanaPointer(slot) as Pointer | null };
    const store = kinStore(committed);

    expect(await store.getTransaction(transactionId(first))).toEqual(first);
    expect(await store.getTransaction(transactionId(second)), "above the committed pointer").toBeNull();
    // A Kin3 pointer (version byte 3) sorts below every Kin4 pointer: agora's older history stays visible.
    expect(await store.getTransaction(transactionId(stellar))).toEqual(stellar);
    const [account] = agoraAccounts(first);
    expect(await store.getAccountHistory(account as string)).toEqual([first]);
    expect(await store.getBlockRange(solanaPointer(slot), solanaPointer(slot + 1n))).toEqual([first]);
    committed.pointer = solanaPointer(slot + 1n);
    expect(await store.getAccountHistory(account as string, { order: "desc" })).toEqual([second, first]);
    expect(await store.getBlockRange(solanaPointer(slot), solanaPointer(slot + 1n))).toEqual([first, second]);
    expect(stellarPointer(3, 3)[0]).toBeLessThan(solanaPointer(0)[0] as number);
  });

  it("judges a second write of a Go-written entry by agora's rules: the same entry adds nothing, a contradiction is refused", async () => {
    const slot = freshSlot();
    const entry = solanaEntry(slot, transferTransaction(key32(), key32()));
    await goWrite(entry);
    const store = kinStore({ pointer: solanaPointer(slot) });
    await store.write(entry);
    for (const account of agoraAccounts(entry)) expect(await rawAccountItems(account)).toHaveLength(1);
    const other = solanaEntry(slot, transferTransaction(key32(), key32()));
    // Same id, different transaction bytes: build it by swapping the signature into another transaction.
    const forged = solanaEntry(
      slot,
      Uint8Array.from([...solanaBody(entry).transaction.slice(0, 65), ...solanaBody(other).transaction.slice(65)]),
    );
    await expect(store.write(forged)).rejects.toBeInstanceOf(DoubleInsertError);
    expect(bytes((await rawGet(tables.table, { tx_hash: { B: transactionId(entry) } }))?.entry?.B)).toEqual(
      Buffer.from(encodeEntry(entry)),
    );
    for (const account of agoraAccounts(forged)) {
      expect(await rawAccountItems(account), "nothing of the forged entry's accounts").toEqual([]);
    }
  });
});
