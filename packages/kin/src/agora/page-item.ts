import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { TransactionErrorSchema } from "../gen/agora/common/v4/model_pb.js";
import { type HistoryItem, HistoryItemSchema } from "../gen/agora/transaction/v4/transaction_service_pb.js";
import type { Entry } from "../gen/model_pb.js";
import { orderingKey, transactionId } from "../model/codec.js";
import { decodeEntry } from "../model/entry.js";
import {
  delimitedSize,
  varintSize,
  writeBytesField,
  writeDelimitedHeader,
  writeVarintField,
} from "../model/protobuf-wire.js";
import { agoraTransfersOf } from "../model/solana.js";
import {
  blockTimeOf,
  loadedAddressesOf,
  readStoredSolanaEntry,
  type StoredSolanaEntry,
} from "../model/stored-solana-entry.js";
import { parseWireTransaction, type WireTransaction } from "../model/wire.js";
import { historyItemOf } from "./history-item.js";
import { transactionErrorOf } from "./transaction-error.js";

/**
 * An entry on its way into a GetHistory page: where it sorts, its id, and
 * the v4 history item it becomes.
 */
export interface PageItem {
  readonly orderingKey: Uint8Array;
  /** The transaction id, to tell entries apart and break ordering-key ties. */
  readonly id: Uint8Array;
  /**
   * The entry's `HistoryItem`, ready to write: exactly the bytes of
   * `toBinary(HistoryItemSchema, historyItemOf(entry))`.
   */
  item(): EncodedItem;
  /** The entry's `HistoryItem` as a message. */
  message(): HistoryItem;
}

/** A message ready to be written: its exact size, and how to write it into a buffer sized for it. */
export interface EncodedItem {
  readonly size: number;
  /** Writes the message at `pos`; returns the end. */
  write(out: Uint8Array, pos: number): number;
}

/** An encoded item as a buffer of its own. */
export function itemBytes(item: EncodedItem): Uint8Array {
  const out = new Uint8Array(item.size);
  item.write(out, 0);
  return out;
}

/**
 * `entry` as a page item. An entry given as its stored bytes (a reader
 * through core's `encodedCodec`) is not decoded when it is a Kin4 entry: its
 * ordering key, id and history item are read and written straight from and
 * to protobuf, which is most of what serving a page costs otherwise. Anything
 * else is decoded, so it reads (or fails as corrupt) exactly as a decoded entry.
 */
export function pageItemOf(entry: Entry | Uint8Array): PageItem {
  if (entry instanceof Uint8Array) {
    const stored = readStoredSolanaEntry(entry);
    return stored === null ? decodedItem(decodeEntry(entry)) : storedItem(entry, stored);
  }
  return decodedItem(entry);
}

function decodedItem(entry: Entry): PageItem {
  return {
    orderingKey: orderingKey(entry),
    id: transactionId(entry),
    message: () => historyItemOf(entry),
    item: () => {
      const bytes = toBinary(HistoryItemSchema, historyItemOf(entry));
      return {
        size: bytes.length,
        write: (out, pos) => {
          out.set(bytes, pos);
          return pos + bytes.length;
        },
      };
    },
  };
}

function storedItem(bytes: Uint8Array, stored: StoredSolanaEntry): PageItem {
  return {
    orderingKey: stored.orderingKey,
    id: stored.id,
    // Anything this path does not read exactly is decoded in full, which also reports it corrupt as everywhere else.
    item: () => solanaItem(stored) ?? decodedItem(decodeEntry(bytes)).item(),
    message() {
      const item = solanaItem(stored);
      return item === null ? historyItemOf(decodeEntry(bytes)) : fromBinary(HistoryItemSchema, itemBytes(item));
    },
  };
}

// Field numbers of agora-api's transaction/v4 HistoryItem and common/v4 messages.
const ITEM_TRANSACTION_ID = 1;
const ITEM_CURSOR = 2;
const ITEM_SOLANA_TRANSACTION = 3;
const ITEM_TRANSACTION_ERROR = 5;
const ITEM_PAYMENTS = 6;
const ITEM_TRANSACTION_TIME = 8;
const PAYMENT_SOURCE = 1;
const PAYMENT_DESTINATION = 2;
const PAYMENT_AMOUNT = 3;
const PAYMENT_INDEX = 4;

// Each message holding one bytes field, `value`: TransactionId, Cursor, Transaction, SolanaAccountId.
const VALUE = 1;

/**
 * The history item of a Kin4 entry, written field by field in the order and
 * with the defaults protobuf-es writes `historyItemOf`'s message; null when
 * the entry holds something that path would read differently (its
 * transaction, block time or loaded addresses do not parse).
 */
function solanaItem(stored: StoredSolanaEntry): EncodedItem | null {
  const { id, orderingKey: cursor } = stored;
  const loaded = loadedAddressesOf(stored.meta);
  const time = stored.blockTime === undefined ? undefined : blockTimeOf(stored.blockTime);
  if (loaded === null || time === null) return null;
  let wire: WireTransaction;
  try {
    wire = parseWireTransaction(stored.transaction);
  } catch {
    return null;
  }
  const transaction = stored.transaction;
  const error =
    stored.transactionError.length > 0
      ? toBinary(TransactionErrorSchema, transactionErrorOf(stored.transactionError))
      : undefined;
  const payments = agoraTransfersOf(wire, loaded).map((transfer) => {
    // agora casts the unsigned amount to the field's int64; proto3 leaves zeros out.
    const amount = BigInt.asIntN(64, transfer.amount);
    const size =
      delimitedSize(valueSize(transfer.source)) +
      delimitedSize(valueSize(transfer.destination)) +
      (amount === 0n ? 0 : 1 + varintSize(amount)) +
      (transfer.index === 0 ? 0 : 1 + varintSize(transfer.index));
    return { ...transfer, amount, size };
  });
  const timeSize =
    time === undefined
      ? 0
      : (time.seconds === 0n ? 0 : 1 + varintSize(time.seconds)) + (time.nanos === 0 ? 0 : 1 + varintSize(time.nanos));
  const size =
    delimitedSize(valueSize(id)) +
    delimitedSize(valueSize(cursor)) +
    delimitedSize(valueSize(transaction)) +
    (error === undefined ? 0 : delimitedSize(error.length)) +
    payments.reduce((total, payment) => total + delimitedSize(payment.size), 0) +
    (time === undefined ? 0 : delimitedSize(timeSize));
  return {
    size,
    write(out, pos) {
      let at = writeValue(out, pos, ITEM_TRANSACTION_ID, id);
      at = writeValue(out, at, ITEM_CURSOR, cursor);
      at = writeValue(out, at, ITEM_SOLANA_TRANSACTION, transaction);
      if (error !== undefined) at = writeBytesField(out, at, ITEM_TRANSACTION_ERROR, error);
      for (const payment of payments) {
        at = writeDelimitedHeader(out, at, ITEM_PAYMENTS, payment.size);
        at = writeValue(out, at, PAYMENT_SOURCE, payment.source);
        at = writeValue(out, at, PAYMENT_DESTINATION, payment.destination);
        if (payment.amount !== 0n) at = writeVarintField(out, at, PAYMENT_AMOUNT, payment.amount);
        if (payment.index !== 0) at = writeVarintField(out, at, PAYMENT_INDEX, payment.index);
      }
      if (time !== undefined) {
        at = writeDelimitedHeader(out, at, ITEM_TRANSACTION_TIME, timeSize);
        if (time.seconds !== 0n) at = writeVarintField(out, at, 1, time.seconds);
        if (time.nanos !== 0) at = writeVarintField(out, at, 2, time.nanos);
      }
      return at;
    },
  };
}

/** The content size of a message holding `value` (left out when empty, as proto3 does). */
function valueSize(value: Uint8Array): number {
  return value.length === 0 ? 0 : delimitedSize(value.length);
}

/** Writes a message field whose message holds `value`; returns the end. */
function writeValue(out: Uint8Array, pos: number, field: number, value: Uint8Array): number {
  const at = writeDelimitedHeader(out, pos, field, valueSize(value));
  return value.length === 0 ? at : writeBytesField(out, at, VALUE, value);
}
