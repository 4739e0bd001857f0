import { ed25519PublicKeyStrKey } from "../model/strkey.js";
import { addressOf } from "../model/wire.js";
import { invalidArgument } from "./request-errors.js";

/** The index keys one account is stored under. */
export interface AccountKeys {
  /** agora's key: the 32 bytes as a Stellar `G...` strkey (agora stored Solana accounts this way too). */
  readonly strkey: string;
  /** tidemark's Solana key: the base58 address of a token account or of the owner of token accounts. */
  readonly base58: string;
}

/** The keys of a request's `account_id`, or INVALID_ARGUMENT naming the field. */
export function accountKeys(accountId: { value: Uint8Array } | undefined): AccountKeys {
  if (accountId === undefined) throw invalidArgument("account_id", "is required");
  const value = accountId.value;
  if (value.length !== 32) throw invalidArgument("account_id.value", `must be 32 bytes, got ${value.length}`);
  return { strkey: ed25519PublicKeyStrKey(value), base58: addressOf(value) };
}
