import { createHash } from "node:crypto";
import { getBase58Decoder } from "@solana/kit";
import type { SolanaLedger } from "./solana-ledger.js";

/** A transaction as a simulated node stores it: wire bytes plus the status metadata the RPC reports. */
export interface SimulatedTransaction {
  readonly bytes: Uint8Array;
  readonly version: "legacy" | 0;
  /**
   * The RPC's `meta` object for this transaction, as JSON (err, status, fee,
   * innerInstructions in compiled form, pre/postTokenBalances,
   * loadedAddresses...), or null for a node without metadata.
   */
  readonly meta: Record<string, unknown> | null;
  /** `meta` already written as JSON, when the ledger keeps it so: sent as is. */
  readonly metaText?: string;
  /** What the transaction is, for simulations and tests (e.g. `kin-transfer`, `usdc-transfer`, `recorded`). */
  readonly kind?: string;
}

/** A block as a simulated node stores it. */
export interface SimulatedBlock {
  readonly slot: bigint;
  readonly parentSlot: bigint;
  readonly blockhash: string;
  readonly previousBlockhash: string;
  readonly blockHeight: bigint | null;
  /** Unix seconds, or null when the node does not know. */
  readonly blockTime: number | null;
  readonly transactions: readonly SimulatedTransaction[];
}

export interface SolanaChainOptions {
  /** How many slots the finalized slot trails the newest block (default 0: every block is finalized at once). */
  readonly finalizationLag?: number;
}

const base58 = getBase58Decoder();

/**
 * An in-memory Solana ledger: blocks by slot, skipped slots in between, and
 * a finalized slot. The RPC server answers from it; factories append to it.
 */
export class SolanaChain implements SolanaLedger {
  readonly #blocks = new Map<bigint, SimulatedBlock>();
  readonly #slots: bigint[] = [];
  readonly #lag: bigint;
  #finalizedOverride: bigint | null = null;

  constructor(options: SolanaChainOptions = {}) {
    this.#lag = BigInt(options.finalizationLag ?? 0);
  }

  /** The newest block, or null for an empty chain. */
  get tip(): SimulatedBlock | null {
    const slot = this.#slots.at(-1);
    return slot === undefined ? null : (this.#blocks.get(slot) ?? null);
  }

  /** The newest block's slot, or null for an empty chain. */
  get tipSlot(): bigint | null {
    return this.#slots.at(-1) ?? null;
  }

  /** Blocks stored. */
  get size(): number {
    return this.#slots.length;
  }

  /** The newest finalized slot (the tip minus the finalization lag, unless set explicitly). */
  get finalizedSlot(): bigint {
    if (this.#finalizedOverride !== null) return this.#finalizedOverride;
    const tip = this.#slots.at(-1);
    return tip === undefined ? 0n : tip - this.#lag;
  }

  /** Pins the finalized slot (null: follow the tip again). */
  setFinalizedSlot(slot: bigint | null): void {
    this.#finalizedOverride = slot;
  }

  /** Adds a block after the tip; slots between the tip and it count as skipped. */
  add(block: SimulatedBlock): void {
    const tip = this.#slots.at(-1);
    if (tip !== undefined && block.slot <= tip) throw new Error(`block ${block.slot} does not follow the tip ${tip}`);
    this.#blocks.set(block.slot, block);
    this.#slots.push(block.slot);
  }

  /**
   * Appends a block of `transactions` at `slot` (default: the slot after the
   * tip), linking its parent, blockhash and height to the tip.
   */
  append(
    transactions: readonly SimulatedTransaction[],
    options: { slot?: bigint; blockTime?: number | null } = {},
  ): SimulatedBlock {
    const tip = this.tip;
    const slot = options.slot ?? (tip === null ? 1n : tip.slot + 1n);
    const block: SimulatedBlock = {
      slot,
      parentSlot: tip?.slot ?? slot - 1n,
      blockhash: blockhashFor(slot),
      previousBlockhash: tip?.blockhash ?? blockhashFor(slot - 1n),
      blockHeight: tip?.blockHeight == null ? slot : tip.blockHeight + 1n,
      blockTime: options.blockTime === undefined ? (tip?.blockTime ?? 1_700_000_000) + 1 : options.blockTime,
      transactions,
    };
    this.add(block);
    return block;
  }

  block(slot: bigint): SimulatedBlock | undefined {
    return this.#blocks.get(slot);
  }

  /** True when `slot` lies before the tip but has no block. */
  isSkipped(slot: bigint): boolean {
    const tip = this.#slots.at(-1);
    return tip !== undefined && slot < tip && !this.#blocks.has(slot) && slot >= (this.#slots[0] ?? 0n);
  }

  /** Slots with a block from `start` up to the finalized slot, at most `limit`, ascending. */
  blocksFrom(start: bigint, limit: number): bigint[] {
    const finalized = this.finalizedSlot;
    let low = 0;
    let high = this.#slots.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.#slots[mid] as bigint) < start) low = mid + 1;
      else high = mid;
    }
    const out: bigint[] = [];
    for (let i = low; i < this.#slots.length && out.length < limit; i++) {
      const slot = this.#slots[i] as bigint;
      if (slot > finalized) break;
      out.push(slot);
    }
    return out;
  }
}

/** A deterministic base58 blockhash for a slot. */
export function blockhashFor(slot: bigint): string {
  return base58.decode(createHash("sha256").update(`tidemark-slot-${slot}`).digest());
}
