import { getBase58Decoder } from "@solana/kit";
import { KinBlockFactory, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";

const base58 = getBase58Decoder();

/** A simulated Solana node whose blocks each carry Kin transfers, with every transfer's signature known. */
export interface BackfillChain {
  readonly server: SolanaRpcServer;
  readonly chain: SolanaChain;
  readonly url: string;
  /** The slot before the first block (a plan's `from`). */
  readonly from: bigint;
  /** The last block's slot. */
  readonly until: bigint;
  /** Every Kin transfer's base58 signature, by slot. */
  readonly signatures: ReadonlyMap<bigint, readonly string[]>;
  /** Signatures of the blocks after `after` through `through`. */
  between(after: bigint, through: bigint): string[];
  close(): Promise<void>;
}

/**
 * `blocks` blocks from slot 1000 on, every seventh slot skipped, each with
 * one or two Kin transfers, finalized at once. `latencyMs` delays every RPC
 * answer, as a remote node would.
 */
export async function startBackfillChain(
  blocks: number,
  options: { latencyMs?: number; seed?: string } = {},
): Promise<BackfillChain> {
  const factory = await KinBlockFactory.create({ seed: options.seed ?? "backfill" });
  const chain = new SolanaChain();
  const signatures = new Map<bigint, string[]>();
  let slot = 1000n;
  for (let i = 0; i < blocks; i++) {
    slot += slot % 7n === 0n ? 2n : 1n;
    const transactions = [await factory.transfer(i % 3, (i + 1) % 3, BigInt(i + 1))];
    if (i % 2 === 0)
      transactions.push(await factory.transfer((i + 1) % 3, (i + 2) % 3, BigInt(i + 2), { checked: true }));
    chain.append(transactions, { slot });
    // A legacy transaction's first signature follows its one-byte signature count.
    signatures.set(
      slot,
      transactions.map((tx) => base58.decode(tx.bytes.subarray(1, 65))),
    );
  }
  const server = await SolanaRpcServer.start({ chain, ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}) });
  return {
    server,
    chain,
    url: server.url,
    from: 1000n,
    until: slot,
    signatures,
    between: (after, through) => [...signatures].filter(([s]) => s > after && s <= through).flatMap(([, list]) => list),
    close: () => server.close(),
  };
}
