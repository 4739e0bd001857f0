import { pointerToHex } from "@tidemark/core";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { KinSolanaIngestor, type KinSolanaIngestorOptions, solanaBody, solanaPointer } from "../../src/index.js";
import { KinBlockFactory, type SimulatedTransaction, SolanaChain, SolanaRpcServer } from "../../src/simulator/index.js";
import { collect, first } from "./ingest.js";

/** A simulated Solana node for the tests of one `describe`, and what they read from it. */
export interface SolanaNode {
  /** The slots it serves: 1002 is skipped, as a node skips slots. */
  readonly slots: readonly bigint[];
  /** The running node; available from the first test on. */
  readonly server: SolanaRpcServer;
  /** An ingestor of the node from slot 1000 with quick retries (4 attempts, 20 to 100 ms apart). */
  ingestor(options?: Partial<KinSolanaIngestorOptions>): KinSolanaIngestor;
  /**
   * Reads all four blocks and checks they arrived whole, in order, one Kin entry each;
   * returns the milliseconds it took.
   */
  expectAllBlocks(options?: Partial<KinSolanaIngestorOptions>): Promise<number>;
}

/**
 * Starts a real SolanaRpcServer on loopback before the enclosing `describe`'s tests, clears its
 * faults and counters after each one and closes it after the last. `transactions` gives the i-th
 * block's content. Call it inside `describe`.
 */
export function useSolanaNode(
  seed: string,
  transactions: (factory: KinBlockFactory, i: number) => Promise<SimulatedTransaction[]>,
): SolanaNode {
  const slots = [1000n, 1001n, 1003n, 1004n];
  let server: SolanaRpcServer | undefined;

  beforeAll(async () => {
    const factory = await KinBlockFactory.create({ seed });
    const chain = new SolanaChain();
    for (const [i, slot] of slots.entries()) chain.append(await transactions(factory, i), { slot });
    server = await SolanaRpcServer.start({ chain });
  });
  afterEach(() => {
    server?.faults.clear();
    server?.resetCounters();
  });
  afterAll(async () => {
    await server?.close();
  });

  const node: SolanaNode = {
    slots,
    get server() {
      if (server === undefined) throw new Error("the simulated Solana node is not started yet");
      return server;
    },
    ingestor: (options = {}) =>
      new KinSolanaIngestor({
        rpcUrl: node.server.url,
        startSlot: 1000n,
        requestTimeoutMs: 2000,
        retry: { maxAttempts: 4, initialBackoffMs: 20, maxBackoffMs: 100 },
        ...options,
      }),
    async expectAllBlocks(options = {}) {
      const started = performance.now();
      const { results, entries, failure } = await collect(node.ingestor(options), null, first(slots.length));
      expect(failure).toBeUndefined();
      expect(results.map((r) => r.error)).toEqual(slots.map(() => undefined));
      expect(results.map((r) => pointerToHex(r.block))).toEqual(slots.map((s) => pointerToHex(solanaPointer(s))));
      // Blocks are fetched concurrently: entries of different blocks may be written in any order, each once.
      expect(entries.map((e) => solanaBody(e).slot).sort()).toEqual(slots);
      return performance.now() - started;
    },
  };
  return node;
}
