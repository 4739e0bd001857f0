import type { ChainName } from "./chain-names.js";

/**
 * The largest block each chain's client can ask for. Kin4: @solana/kit refuses
 * a bigint above `Number.MAX_SAFE_INTEGER` in a request (an integer-overflow
 * error that would be retried forever), and the client sends slots as JSON
 * numbers. Kin2/Kin3: Horizon paging tokens put the ledger in the top 32 bits
 * of a signed 64-bit integer, so a ledger must stay below 2^31.
 */
export function maxBlock(chain: ChainName): bigint {
  return chain === "kin4" ? BigInt(Number.MAX_SAFE_INTEGER) : 0x7fff_ffffn;
}

/** Why a block cannot be used for `chain`, or null. `resumesAfter`: ingestion continues at the next block. */
export function blockProblem(chain: ChainName, block: bigint, resumesAfter: boolean): string | null {
  const max = maxBlock(chain) - (resumesAfter ? 1n : 0n);
  if (block <= max) return null;
  const unit = chain === "kin4" ? "slot" : "ledger";
  const why =
    chain === "kin4"
      ? "the Solana RPC client takes slots up to 2^53-1"
      : "Horizon paging tokens take ledgers up to 2^31-1";
  return `must be at most ${max} for ${chain} (${why}${resumesAfter ? `, and ingestion resumes at the next ${unit}` : ""})`;
}
