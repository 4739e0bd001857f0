import { DoubleInsertError, type HistoryCodec, type Pointer, pointerFromNumber } from "@tidemark/core";

/**
 * The chain-agnostic entry the history-store suite writes: a transaction of
 * block `block` at position `index`, listed under `accounts`. `revision`
 * models a chain whose entries may be superseded (a slot confirmed later);
 * `payload` is the part that must never change.
 */
export interface KitEntry {
  readonly id: string;
  readonly block: number;
  readonly index: number;
  readonly accounts: readonly string[];
  readonly payload: string;
  readonly revision: number;
}

/** Block (8 bytes) then index (4 bytes), big-endian: byte order is chain order. */
export function kitOrderingKey(block: number, index: number): Uint8Array {
  const key = new Uint8Array(12);
  const view = new DataView(key.buffer);
  view.setBigUint64(0, BigInt(block));
  view.setUint32(8, index);
  return key;
}

/**
 * How stores index kit entries. A higher revision replaces a lower one; a
 * different payload under the same id is a `DoubleInsertError`.
 */
export const kitCodec: HistoryCodec<KitEntry> = {
  transactionId: (entry) => new TextEncoder().encode(entry.id),
  accounts: (entry) => entry.accounts,
  orderingKey: (entry) => kitOrderingKey(entry.block, entry.index),
  block: (entry): Pointer => pointerFromNumber(entry.block),
  encode: (entry) => new TextEncoder().encode(JSON.stringify(entry)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) as KitEntry,
  reconcile(stored, incoming) {
    if (stored.payload !== incoming.payload || stored.block !== incoming.block || stored.index !== incoming.index) {
      throw new DoubleInsertError(`kit entry "${incoming.id}" is already stored with another payload or position`);
    }
    return incoming.revision > stored.revision ? "replace" : "keep";
  },
};
