// Kin entries for the layout tests, built with @tidemark/kin's own constructors, and the store
// options that list them in the global history as agora does.
import { randomBytes } from "node:crypto";
import type { Pointer } from "@tidemark/core";
import {
  createSolanaEntry,
  createStellarEntry,
  type Entry,
  globalHistorySlot,
  KinVersion,
  orderingKeyOfSlot,
  slotFromPointer,
  solanaBody,
  TOKEN_PROGRAM_ADDRESS,
} from "@tidemark/kin";

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58Bytes(text: string): Uint8Array {
  let n = 0n;
  for (const char of text) n = n * 58n + BigInt(BASE58.indexOf(char));
  const out = new Uint8Array(32);
  for (let i = 31; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/**
 * A legacy wire transaction with one SPL Token Transfer (instruction 3) of
 * `amount` from `source` to `destination`, signed (with made-up bytes) by
 * `owner`: what agora indexes under the source and destination.
 */
export function transferTransaction(
  source: Uint8Array,
  destination: Uint8Array,
  owner: Uint8Array = randomBytes(32),
): Uint8Array {
  const data = new Uint8Array(9);
  data[0] = 3;
  new DataView(data.buffer).setBigUint64(1, 1000n, true);
  return Uint8Array.from([
    1,
    ...randomBytes(64), // the signature, and so the transaction id
    1,
    0,
    1, // header: one signer, the token program read-only
    4,
    ...owner,
    ...source,
    ...destination,
    ...base58Bytes(TOKEN_PROGRAM_ADDRESS),
    ...randomBytes(32), // recent blockhash
    1,
    3, // program: the token program
    3,
    1,
    2,
    0, // accounts: source, destination, owner
    data.length,
    ...data,
  ]);
}

/** A Kin4 entry of `slot` for `transaction`; `confirmed: false` is what agora's submit path writes first. */
export function solanaEntry(slot: bigint, transaction: Uint8Array, confirmed = true): Entry {
  const entry = createSolanaEntry({ slot, transaction, blockTime: new Date("2021-06-01T00:00:00Z") });
  solanaBody(entry).confirmed = confirmed;
  return entry;
}

/** A real Kin3-era pubnet transaction (ledger 3): a create-account and payment from the root account. */
export function stellarEntry(): Entry {
  return createStellarEntry({
    version: KinVersion.KIN3,
    ledger: 3,
    pagingToken: 12884905984n,
    ledgerCloseTime: new Date(1443633354 * 1000),
    networkPassphrase: "Public Global Stellar Network ; September 2015",
    envelopeXdr: bytesOf(
      "AAAAAAGUcmKO5465JxTSLQOQljwk2SfqAJmZSG6JH6wtqpwhAAABLAAAAAAAAAABAAAAAAAAAAEAAAALaGVsbG8gd29ybGQAAAAAAwAAAAAAAAAAAAAAABbxCy3mLg3hiTqX4VUEEp60pFOrJNxYM1JtxXTwXhY2AAAAAAvrwgAAAAAAAAAAAQAAAAAW8Qst5i4N4Yk6l+FVBBKetKRTqyTcWDNSbcV08F4WNgAAAAAN4Lazj4x61AAAAAAAAAAFAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABLaqcIQAAAEBKwqWy3TaOxoGnfm9eUjfTRBvPf34dvDA0Nf+B8z4zBob90UXtuCqmQqwMCyH+okOI3c05br3khkH0yP4kCwcE",
    ),
    resultXdr: bytesOf("AAAAAAAAASwAAAAAAAAAAwAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAFAAAAAAAAAAA="),
  });
}

function bytesOf(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

/** The store options that make the global history agora's: confirmed Solana entries, by slot. */
export const kinGlobalHistory = {
  globalHistory: globalHistorySlot,
  blockOfPointer: (pointer: Pointer): bigint => slotFromPointer(pointer),
  orderingKeyOfBlock: orderingKeyOfSlot,
};
