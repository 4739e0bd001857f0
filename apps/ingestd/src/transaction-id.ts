import { getBase58Encoder } from "@solana/codecs-strings";
import type { ChainName } from "./chain-names.js";
import { InvalidConfigError } from "./config-error.js";

const base58 = getBase58Encoder();

/** Parses a transaction id as users see it: a base58 signature (kin4) or a hex hash (kin2, kin3). */
export function parseTransactionId(chain: ChainName, text: string): Uint8Array {
  if (chain === "kin4") {
    try {
      const bytes = new Uint8Array(base58.encode(text));
      if (bytes.length === 64) return bytes;
    } catch {
      // Reported below with the expected shape.
    }
    throw new InvalidConfigError("<txId>", `a kin4 transaction id is a base58 signature of 64 bytes, got "${text}"`);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new InvalidConfigError("<txId>", `a ${chain} transaction id is a 64-character hex hash, got "${text}"`);
  }
  return new Uint8Array(Buffer.from(text, "hex"));
}
