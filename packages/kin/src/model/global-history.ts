import type { Entry } from "../gen/model_pb.js";
import { KinVersion } from "../gen/model_pb.js";

/**
 * agora's `OrderingKeyFromBlock`: the lowest (`first`) or highest (`last`)
 * Kin4 ordering key a transaction of `slot` can have, to bound range queries
 * over ordering keys by slot.
 */
export function orderingKeyOfSlot(slot: bigint, edge: "first" | "last"): Uint8Array {
  const key = new Uint8Array(17);
  key[0] = KinVersion.KIN4;
  const view = new DataView(key.buffer);
  view.setBigUint64(1, slot);
  if (edge === "last") view.setBigUint64(9, 0xffff_ffff_ffff_ffffn);
  return key;
}

/**
 * The slot agora lists `entry` under in its global, block-ordered history
 * (`tx-history`), or null: agora lists confirmed Solana entries only.
 */
export function globalHistorySlot(entry: Entry): bigint | null {
  return entry.kind.case === "solana" && entry.kind.value.confirmed ? entry.kind.value.slot : null;
}
