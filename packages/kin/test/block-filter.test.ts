import { afterEach, describe, expect, it } from "vitest";
import { type KinRpcError, KinSolanaIngestor, solanaBody, solanaPointer } from "../src/index.js";
import { KinBlockFactory, type SimulatedTransaction, SolanaChain, SolanaRpcServer } from "../src/simulator/index.js";
import { collect, first } from "./support/ingest.js";

// getBlock's transactions are read only as far as they need to be: one that cannot be a Kin
// transaction (no SPL Token program among its keys, or no Kin mint) is framed and left, its
// metadata neither read nor checked.
describe("Kin4 block reading", () => {
  let server: SolanaRpcServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** One block of `txs` at slot 500, read by the real ingestor. */
  async function readBlock(txs: SimulatedTransaction[]) {
    const chain = new SolanaChain();
    chain.append(txs, { slot: 500n });
    server = await SolanaRpcServer.start({ chain });
    const ingestor = new KinSolanaIngestor({
      rpcUrl: server.url,
      startSlot: 500n,
      retry: { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1 },
    });
    const { results, entries } = await collect(ingestor, solanaPointer(499n), first(1));
    return { error: results[0]?.error as KinRpcError | undefined, entries };
  }

  it("reads no further than the keys and token balances of what cannot be a Kin transaction", async () => {
    const factory = await KinBlockFactory.create({ seed: "block-filter" });
    const malformed = (tx: SimulatedTransaction): SimulatedTransaction => ({
      ...tx,
      meta: { ...(tx.meta ?? {}), err: 42, loadedAddresses: { writable: [7], readonly: [] } },
    });
    const kin = await factory.transfer(0, 1, 25n);
    // A SOL transfer (no token program) and a USDC transfer (no Kin mint), both with metadata no node sends.
    const sol = malformed(await factory.solTransfer(1, 2, 5_000n));
    const usdc = malformed(await factory.otherTokenTransfer(1, 2, 5n));
    const read = await readBlock([sol, kin, usdc]);
    expect(read.error).toBeUndefined();
    expect(read.entries.map((e) => Buffer.from(solanaBody(e).transaction))).toEqual([Buffer.from(kin.bytes)]);

    // The same metadata on a Kin transfer fails the block, naming it.
    await server?.close();
    const refused = await readBlock([sol, kin, malformed(await factory.transfer(2, 3, 7n))]);
    expect(refused.error?.message).toContain(
      "getBlock(500): transactions[2].meta.err: expected null, a string or an object, got number 42",
    );
  });

  it("refuses transaction bytes that are not base64, whatever their length", async () => {
    const factory = await KinBlockFactory.create({ seed: "block-filter" });
    const kin = await factory.transfer(0, 1, 25n);
    const text = Buffer.from(kin.bytes).toString("base64");
    for (const bad of [`${text.slice(0, 8)}!${text.slice(9)}`, `${text.slice(0, -4)} AAA`, `${text}A`]) {
      const chain = new SolanaChain();
      chain.append([kin], { slot: 500n });
      server = await SolanaRpcServer.start({ chain });
      server.faults.add({
        method: "getBlock",
        target: 500n,
        times: Number.POSITIVE_INFINITY,
        fault: {
          kind: "mutate",
          mutate: (block) => {
            const b = structuredClone(block) as { transactions: { transaction: [string, string] }[] };
            (b.transactions[0] as { transaction: [string, string] }).transaction = [bad, "base64"];
            return b;
          },
        },
      });
      const ingestor = new KinSolanaIngestor({
        rpcUrl: server.url,
        startSlot: 500n,
        retry: { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1 },
      });
      const { results } = await collect(ingestor, solanaPointer(499n), first(1));
      expect(String((results[0]?.error as Error | undefined)?.message)).toContain(
        "getBlock(500): transactions[0].transaction[0]: expected base64 transaction bytes",
      );
      await server.close();
      server = undefined;
    }
  });
});
