import type { AttributeValue, WriteRequest } from "@aws-sdk/client-dynamodb";
import { CorruptRecordError } from "@tidemark/core";
import type { TableRef } from "./errors.js";

// agora v0.2.7's attribute names (pkg/transaction/history/dynamodb/model.go).
export const TX_HASH = "tx_hash";
export const ACCOUNT = "account";
export const ORDERING_KEY = "ordering_key";
export const BLOCK_START = "block_start";
export const ENTRY = "entry";

/** DynamoDB's largest item: attribute names and values together. */
export const MAX_ITEM_BYTES = 400 * 1024;

/** Blocks per partition of the history table, agora's `blockPartitionSize`. */
export const HISTORY_PARTITION_BLOCKS = 10_000n;

/** The partition (`block_start`) that holds `block`: the block rounded down to a multiple of 10 000. */
export function partitionOf(block: bigint): bigint {
  return (block / HISTORY_PARTITION_BLOCKS) * HISTORY_PARTITION_BLOCKS;
}

/** The three tables and their key schemas. */
export function historyTableRefs(names: { table: string; accountTable: string; historyTable: string }) {
  const createdBy = "createHistoryTables";
  return {
    transactions: { name: names.table, hashKey: TX_HASH, hashType: "B", createdBy },
    accounts: {
      name: names.accountTable,
      hashKey: ACCOUNT,
      hashType: "S",
      rangeKey: ORDERING_KEY,
      rangeType: "B",
      createdBy,
    },
    history: {
      name: names.historyTable,
      hashKey: BLOCK_START,
      hashType: "N",
      rangeKey: ORDERING_KEY,
      rangeType: "B",
      createdBy,
    },
  } satisfies Record<string, TableRef>;
}

/** One put or delete of an account or history item, with the key that identifies it in a batch. */
export interface ItemWrite {
  readonly table: string;
  /** Table and key, unique per item: two writes of one item never share a batch request. */
  readonly id: string;
  readonly request: WriteRequest;
}

export function accountItemKey(account: string, orderingKey: Uint8Array): Record<string, AttributeValue> {
  return { [ACCOUNT]: { S: account }, [ORDERING_KEY]: { B: orderingKey } };
}

export function historyItemKey(block: bigint, orderingKey: Uint8Array): Record<string, AttributeValue> {
  return { [BLOCK_START]: { N: partitionOf(block).toString() }, [ORDERING_KEY]: { B: orderingKey } };
}

/** The identity of an item of `table` with `key`, for matching a batch's unprocessed items back. */
export function itemId(table: string, key: Record<string, AttributeValue>): string {
  const parts = [table];
  for (const name of [TX_HASH, ACCOUNT, BLOCK_START, ORDERING_KEY]) {
    const value = key[name];
    if (value === undefined) continue;
    parts.push(`${name}=${value.S ?? value.N ?? (value.B ? Buffer.from(value.B).toString("base64") : "")}`);
  }
  return parts.join("\n");
}

export function putOf(table: string, key: Record<string, AttributeValue>, entry: Uint8Array): ItemWrite {
  return { table, id: itemId(table, key), request: { PutRequest: { Item: { ...key, [ENTRY]: { B: entry } } } } };
}

export function deleteOf(write: ItemWrite): ItemWrite {
  const item = write.request.PutRequest?.Item ?? write.request.DeleteRequest?.Key ?? {};
  const key = Object.fromEntries(Object.entries(item).filter(([name]) => name !== ENTRY));
  return { table: write.table, id: write.id, request: { DeleteRequest: { Key: key } } };
}

/** The `entry` bytes of a stored item; a `CorruptRecordError` naming table and key when there are none. */
export function entryBytes(item: Record<string, AttributeValue>, table: string): Uint8Array {
  const value = item[ENTRY];
  if (value?.B instanceof Uint8Array) return value.B;
  const type = value === undefined ? "missing" : `of type ${Object.keys(value).find((k) => k !== "$unknown") ?? "?"}`;
  throw new CorruptRecordError(
    `dynamodb history store: item ${describeKey(item)} in table "${table}" has its "${ENTRY}" attribute ${type}, expected binary (B)`,
  );
}

/** An item's key for messages, e.g. `account "G…" ordering_key 04…`. */
export function describeKey(item: Record<string, AttributeValue>): string {
  const parts: string[] = [];
  for (const name of [TX_HASH, ACCOUNT, BLOCK_START, ORDERING_KEY]) {
    const value = item[name];
    if (value === undefined) continue;
    if (value.B instanceof Uint8Array) parts.push(`${name} ${Buffer.from(value.B).toString("hex")}`);
    else parts.push(`${name} ${JSON.stringify(value.S ?? value.N)}`);
  }
  return parts.join(" ") || "(no key)";
}

/** An item's size as DynamoDB counts it: names plus values (a number as one byte per two digits, plus one). */
export function itemSize(item: Record<string, AttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name);
    if (value.B instanceof Uint8Array) size += value.B.length;
    else if (value.S !== undefined) size += Buffer.byteLength(value.S);
    else if (value.N !== undefined) size += Math.ceil(value.N.replace(/^[-0.]+|\.?0*$/g, "").length / 2) + 1;
  }
  return size;
}
