import type { SimulatedTransaction } from "./solana-chain.js";

/** One transaction as getBlock writes it in base64 encoding: its metadata, its wire bytes, and its version when asked. */
export function transactionJson(tx: SimulatedTransaction, withVersion: boolean): string {
  const bytes = Buffer.from(tx.bytes.buffer, tx.bytes.byteOffset, tx.bytes.byteLength).toString("base64");
  const version = withVersion ? `,"version":${JSON.stringify(tx.version)}` : "";
  return `{"meta":${tx.metaText ?? JSON.stringify(tx.meta)},"transaction":["${bytes}","base64"]${version}}`;
}
