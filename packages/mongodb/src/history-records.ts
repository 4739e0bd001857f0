import { assertPointer, CorruptRecordError, type HistoryCodec, InvalidArgumentError } from "@tidemark/core";
import { Binary, BSON, type Document } from "mongodb";
import { describe, isBsonType } from "./records.js";

/**
 * One entry of one ingestor. `block` and `key` are lowercase hex, not BinData:
 * MongoDB orders BinData by length before bytes, while pointers and ordering
 * keys order by bytes, a shorter prefix first, which is exactly how hex strings
 * compare under the simple collation.
 */
export interface HistoryDocument extends Document {
  _id: { i: string; t: Binary };
  block: string;
  key: string;
  entry: Binary;
  accounts: string[];
}

/** The fields reads fetch: the entry, and the ordering key to sort a block range by. */
export type StoredEntryFields = Pick<HistoryDocument, "_id" | "entry"> & { key?: unknown };

/** MongoDB's largest document, in bytes. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** Byte order of hex strings holds under the simple collation only; every query and index names it. */
export const SIMPLE_COLLATION = { locale: "simple" } as const;

const HEX = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** The `_id` of a transaction: always built in this field order, as `_id` equality compares documents field by field. */
export function historyId(ingestor: string, transactionId: Uint8Array): HistoryDocument["_id"] {
  // A copy: the caller may reuse its array while the driver still serialises.
  return { i: ingestor, t: new Binary(Uint8Array.from(transactionId), Binary.SUBTYPE_DEFAULT) };
}

/**
 * The document of `entry`. Throws `InvalidArgumentError` for what the codec got
 * wrong and for an entry too large for one document, so that only this write fails.
 */
export function historyDocument<E>(codec: HistoryCodec<E>, ingestor: string, entry: E): HistoryDocument {
  const transactionId = codec.transactionId(entry);
  if (!(transactionId instanceof Uint8Array) || transactionId.length === 0) {
    throw new InvalidArgumentError("mongodb history store: the codec's transactionId must be a non-empty Uint8Array");
  }
  const block = codec.block(entry);
  assertPointer(block, "mongodb history store: the codec's block");
  const key = codec.orderingKey(entry);
  if (!(key instanceof Uint8Array)) {
    throw new InvalidArgumentError("mongodb history store: the codec's orderingKey must be a Uint8Array");
  }
  const accounts = [...new Set(codec.accounts(entry))];
  let textLength = ingestor.length;
  for (const account of accounts) {
    if (typeof account !== "string") {
      throw new InvalidArgumentError(`mongodb history store: accounts must be strings, got a ${typeof account}`);
    }
    textLength += account.length + 8;
  }
  const document: HistoryDocument = {
    _id: historyId(ingestor, transactionId),
    block: toHex(block),
    key: toHex(key),
    // The codec's own fresh bytes: no copy, as entries may be megabytes.
    entry: new Binary(codec.encode(entry), Binary.SUBTYPE_DEFAULT),
    accounts,
  };
  // An upper bound first (3 UTF-8 bytes per UTF-16 unit): the exact size is only computed near the limit.
  const bound = document.entry.length() + transactionId.length + 2 * (block.length + key.length) + 3 * textLength + 256;
  if (bound > MAX_DOCUMENT_BYTES) {
    const size = BSON.calculateObjectSize(document);
    if (size > MAX_DOCUMENT_BYTES) {
      throw new InvalidArgumentError(
        `mongodb history store: transaction ${toHex(transactionId)} of "${ingestor}" needs a ${size}-byte document, ` +
          `more than MongoDB's ${MAX_DOCUMENT_BYTES}`,
      );
    }
  }
  return document;
}

/** Names a stored document in messages: its transaction id and ingestor, or the type of an `_id` tidemark did not write. */
export function describeStored(document: Document): string {
  const id = document._id as unknown;
  if (isHistoryId(id)) return `entry ${toHex(id.t.value())} of "${id.i}"`;
  return `document with _id ${describe(id)}`;
}

/** Decodes a stored entry; a document tidemark did not write, or bytes the codec refuses, are `CorruptRecordError`. */
export function decodeHistoryEntry<E>(codec: HistoryCodec<E>, document: Document, namespace: string): E {
  const what = `mongodb: history ${describeStored(document)} in ${namespace}`;
  if (!isHistoryId(document._id)) {
    throw new CorruptRecordError(`${what} is corrupt: _id is not { i: <ingestor>, t: BinData }`);
  }
  const entry = document.entry as unknown;
  if (!isBsonType(entry, "Binary")) {
    throw new CorruptRecordError(`${what} is corrupt: entry is ${describe(entry)}, expected BinData`);
  }
  try {
    // A copy, so that a decoded entry never holds on to a driver buffer of a whole batch.
    return codec.decode(Uint8Array.from((entry as Binary).value()));
  } catch (error) {
    throw new CorruptRecordError(`${what} does not decode: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  }
}

/**
 * Checks a document found in the collection before the store uses it: a
 * collection of other documents (say, the commit collection) is reported, not
 * written into.
 */
export function checkHistoryShape(document: Document | null, namespace: string): void {
  if (document === null) return;
  const problem = shapeProblem(document);
  if (problem !== null) {
    throw new CorruptRecordError(
      `mongodb: ${namespace} is not a tidemark history collection: its ${describeStored(document)} has ${problem}`,
    );
  }
}

function shapeProblem(document: Document): string | null {
  const id = document._id as unknown;
  if (!isHistoryId(id) || Object.keys(id).join() !== "i,t") {
    return `_id ${describe(id)}, expected { i: <ingestor>, t: BinData }`;
  }
  for (const field of ["block", "key"] as const) {
    const value = document[field] as unknown;
    if (typeof value !== "string" || !HEX.test(value)) return `${field} ${describe(value)}, expected lowercase hex`;
  }
  if (!isBsonType(document.entry, "Binary")) return `entry ${describe(document.entry)}, expected BinData`;
  const accounts = document.accounts as unknown;
  if (!Array.isArray(accounts) || !accounts.every((account) => typeof account === "string")) {
    return `accounts ${describe(accounts)}, expected an array of strings`;
  }
  return null;
}

function isHistoryId(id: unknown): id is HistoryDocument["_id"] {
  if (typeof id !== "object" || id === null || Array.isArray(id)) return false;
  const { i, t } = id as { i?: unknown; t?: unknown };
  return typeof i === "string" && isBsonType(t, "Binary");
}
