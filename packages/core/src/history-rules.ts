import { DoubleInsertError } from "./errors.js";
import type { HistoryCodec } from "./writer.js";

/**
 * What a store does when `incoming` has the transaction id of `stored`: the
 * codec's judgement, or byte equality for codecs without one. Every store
 * calls this, so the rules of a chain live in its codec, once.
 */
export function reconcileEntries<E>(codec: HistoryCodec<E>, stored: E, incoming: E, where: string): "keep" | "replace" {
  if (codec.reconcile) return codec.reconcile(stored, incoming);
  if (Buffer.from(codec.encode(stored)).equals(codec.encode(incoming))) return "keep";
  throw new DoubleInsertError(
    `${where}: transaction ${Buffer.from(codec.transactionId(incoming)).toString("hex")} is already stored with different bytes`,
  );
}
