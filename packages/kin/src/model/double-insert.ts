import { DoubleInsertError } from "@tidemark/core";
import type { Entry } from "../gen/model_pb.js";
import { KinVersion } from "../gen/model_pb.js";
import { encodeEntry, solanaBody } from "./entry.js";

/**
 * agora v0.2.7's double-insert rules (`checkDoubleInsertMatch` of its
 * DynamoDB history store), as a codec's `reconcile`:
 * - a Kin2/Kin3 entry may only be written again unchanged;
 * - a Solana entry may be rewritten, but its slot must not go back to 0, a
 *   confirmed entry must not become unconfirmed, the transaction bytes must
 *   match, and an error already recorded must match. A rewrite that passes is
 *   taken as the more recent view and replaces the stored one.
 */
export function reconcileKinEntries(stored: Entry, incoming: Entry): "keep" | "replace" {
  const same = Buffer.from(encodeEntry(stored)).equals(encodeEntry(incoming));
  if (same) return "keep";
  if (stored.version <= KinVersion.KIN3) {
    throw new DoubleInsertError("double insert of a Kin2/Kin3 entry with different contents");
  }
  const before = solanaBody(stored);
  const after = solanaBody(incoming);
  if (before.slot > 0n && after.slot === 0n) {
    throw new DoubleInsertError(`double insert of a Solana entry would reset its slot (stored ${before.slot}, new 0)`);
  }
  if (before.confirmed && !after.confirmed) {
    throw new DoubleInsertError("double insert of a Solana entry would turn a confirmed transaction unconfirmed");
  }
  if (!Buffer.from(before.transaction).equals(after.transaction)) {
    throw new DoubleInsertError("double insert of a Solana entry with different transaction bytes");
  }
  if (before.transactionError.length > 0 && !Buffer.from(before.transactionError).equals(after.transactionError)) {
    throw new DoubleInsertError("double insert of a Solana entry with a different transaction error");
  }
  return "replace";
}
