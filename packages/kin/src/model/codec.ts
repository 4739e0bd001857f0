import type { Address } from "@solana/kit";
import type { HistoryCodec, Pointer } from "@tidemark/core";
import type { Entry } from "../gen/model_pb.js";
import { reconcileKinEntries } from "./double-insert.js";
import { decodeEntry, encodeEntry, solanaBody, stellarBody } from "./entry.js";
import { solanaPointer, stellarPointer } from "./pointer.js";
import { solanaAccounts, solanaAgoraAccounts, solanaOrderingKey, solanaTransactionId } from "./solana.js";
import { KIN_MINT_ADDRESS } from "./spl-token.js";
import { stellarAccounts, stellarOrderingKey, stellarTransactionId } from "./stellar.js";

export interface KinHistoryCodecOptions {
  /** The mint whose Solana instructions the base58 account view follows (default: the Kin mint). */
  readonly mint?: string;
}

/** The transaction id agora uses for `entry`: the Stellar transaction hash, or the first Solana signature. */
export function transactionId(entry: Entry): Uint8Array {
  return entry.kind.case === "stellar" ? stellarTransactionId(entry) : solanaTransactionId(entry);
}

/** agora's ordering key of `entry` (9 bytes for Stellar, 17 for Solana). */
export function orderingKey(entry: Entry): Uint8Array {
  return entry.kind.case === "stellar" ? stellarOrderingKey(entry) : solanaOrderingKey(entry);
}

/** The pointer of the block (ledger or slot) `entry` belongs to. */
export function entryBlock(entry: Entry): Pointer {
  if (entry.kind.case === "stellar") return stellarPointer(entry.version, stellarBody(entry).ledger);
  return solanaPointer(solanaBody(entry).slot);
}

/** The accounts agora indexes `entry` under (Stellar G... strkeys, also for Solana). */
export function agoraAccounts(entry: Entry): string[] {
  return entry.kind.case === "stellar" ? stellarAccounts(entry) : solanaAgoraAccounts(entry);
}

/**
 * How history stores index Kin entries. Accounts are agora's (so existing
 * agora indexes keep answering) plus, for Solana, the base58 token accounts and
 * owners of the Kin instructions (what a Solana user looks up).
 */
export function createKinHistoryCodec(options: KinHistoryCodecOptions = {}): HistoryCodec<Entry> {
  const mint = (options.mint ?? KIN_MINT_ADDRESS) as Address;
  return {
    transactionId,
    accounts: (entry) => {
      const agora = agoraAccounts(entry);
      if (entry.kind.case !== "solana") return agora;
      return [...new Set([...agora, ...solanaAccounts(entry, mint)])];
    },
    orderingKey,
    block: entryBlock,
    encode: encodeEntry,
    decode: decodeEntry,
    reconcile: reconcileKinEntries,
  };
}

/** {@link createKinHistoryCodec} for the Kin mint. */
export const kinHistoryCodec: HistoryCodec<Entry> = createKinHistoryCodec();
