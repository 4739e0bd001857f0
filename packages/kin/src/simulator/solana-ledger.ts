import type { SimulatedBlock } from "./solana-chain.js";

/**
 * What {@link SolanaRpcServer} serves from: a ledger of blocks by slot. An
 * in-memory {@link SolanaChain} keeps its blocks; a
 * {@link MainnetShapedChain} produces each one on demand from its slot.
 */
export interface SolanaLedger {
  /** The newest slot with a block, or null for an empty ledger. */
  readonly tipSlot: bigint | null;
  /** The newest finalized slot. */
  readonly finalizedSlot: bigint;
  /** The block at `slot`, or undefined when there is none (skipped, or beyond the tip). */
  block(slot: bigint): SimulatedBlock | undefined;
  /** True when `slot` lies before the tip but has no block. */
  isSkipped(slot: bigint): boolean;
  /** Slots with a block from `start` up to the finalized slot, at most `limit`, ascending. */
  blocksFrom(start: bigint, limit: number): bigint[];
  /**
   * The block's transactions as the JSON array getBlock sends in base64
   * encoding (`version` shown when `withVersion`), as chunks of UTF-8, for a
   * ledger that writes it cheaper than from {@link block}'s objects;
   * undefined when there is no block.
   */
  transactionsJson?(slot: bigint, withVersion: boolean): Buffer[] | undefined;
}
