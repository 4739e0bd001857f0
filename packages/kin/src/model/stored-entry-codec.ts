import { encodedCodec, type HistoryCodec } from "@tidemark/core";
import { kinHistoryCodec } from "./codec.js";
import { solanaPointer } from "./pointer.js";
import { readStoredSolanaEntry } from "./stored-solana-entry.js";

const decoding = encodedCodec(kinHistoryCodec);

/**
 * `kinHistoryCodec` over the bytes a store keeps (core's `encodedCodec`):
 * reads return entries as stored, undecoded, and a Kin4 entry's id, ordering
 * key and block are read straight from its bytes, so a store that checks
 * each entry it reads against the committed pointer decodes nothing either.
 * Anything else is decoded. Writes store what `kinHistoryCodec` would.
 */
export const storedKinHistoryCodec: HistoryCodec<Uint8Array> = {
  ...decoding,
  transactionId: (bytes) => {
    const stored = readStoredSolanaEntry(bytes);
    return stored === null ? decoding.transactionId(bytes) : new Uint8Array(stored.id);
  },
  orderingKey: (bytes) => readStoredSolanaEntry(bytes)?.orderingKey ?? decoding.orderingKey(bytes),
  block: (bytes) => {
    const stored = readStoredSolanaEntry(bytes);
    return stored === null ? decoding.block(bytes) : solanaPointer(stored.slot);
  },
};
