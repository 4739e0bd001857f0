import type { HistoryCodec } from "./writer.js";

/**
 * `codec`'s entries as the bytes a history store keeps (`codec.encode`'s
 * output). Reads through it return those bytes as stored, skipping `decode`:
 * for readers that pass entries on, such as a server that re-encodes only the
 * fields it answers with. What a write needs (id, accounts, ordering key,
 * block, reconciliation) is taken from the decoded entry, so writing through
 * it stores exactly what writing the decoded entry through `codec` would.
 */
export function encodedCodec<E>(codec: HistoryCodec<E>): HistoryCodec<Uint8Array> {
  const reconcile = codec.reconcile?.bind(codec);
  return {
    transactionId: (bytes) => codec.transactionId(codec.decode(bytes)),
    accounts: (bytes) => codec.accounts(codec.decode(bytes)),
    orderingKey: (bytes) => codec.orderingKey(codec.decode(bytes)),
    block: (bytes) => codec.block(codec.decode(bytes)),
    encode: (bytes) => bytes,
    decode: (bytes) => bytes,
    ...(reconcile
      ? {
          reconcile: (stored: Uint8Array, incoming: Uint8Array) =>
            reconcile(codec.decode(stored), codec.decode(incoming)),
        }
      : {}),
  };
}
