import { getAddressEncoder, getBase58Decoder } from "@solana/kit";
import { pointersEqual } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KinSolanaIngestor, kinHistoryCodec, kinInstructions, solanaBody, solanaPointer } from "../src/index.js";
import { MainnetShapedChain, SolanaRpcServer, VOTE_PROGRAM_ADDRESS } from "../src/simulator/index.js";
import { getBlockText } from "./support/get-block.js";
import { collect } from "./support/ingest.js";

const base58 = getBase58Decoder();
const idOf = (bytes: Uint8Array) => base58.decode(bytes.subarray(1, 65));

describe("mainnet-shaped chain ingested by the Kin4 ingestor", () => {
  let chain: MainnetShapedChain;
  let server: SolanaRpcServer<MainnetShapedChain>;
  beforeAll(async () => {
    // Small blocks keep the test fast; skipped slots are frequent so some fall inside the range.
    chain = await MainnetShapedChain.create({
      seed: "ingest",
      blocks: 8,
      transactionsPerBlock: 150,
      kinTransfersPerBlock: 3,
      skipProbability: 0.25,
    });
    server = await SolanaRpcServer.start({ chain });
  });
  afterAll(async () => {
    await server.close();
  });

  it("writes exactly the Kin transfers of every block, with their ids and payments, and nothing else", async () => {
    const slots = chain.blocksFrom(0n, 100);
    expect(slots).toHaveLength(8);
    expect(Number(chain.tipSlot - chain.firstSlot) + 1, "some slots were skipped").toBeGreaterThan(8);
    const tip = solanaPointer(chain.tipSlot);
    const ingestor = new KinSolanaIngestor({ rpcUrl: server.url, startSlot: chain.firstSlot, concurrency: 4 });
    const { results, entries, failure } = await collect(ingestor, null, (r) => pointersEqual(r.block, tip));
    expect(failure).toBeUndefined();
    expect(results.map((r) => r.error)).toEqual(slots.map(() => undefined));
    expect(results.map((r) => r.block)).toEqual(slots.map(solanaPointer));

    const written = entries.map((entry) => {
      const [instruction, ...more] = kinInstructions(entry, chain.mint);
      expect(more).toEqual([]);
      const transfer = instruction?.instruction;
      if (transfer?.kind !== "transfer") throw new Error(`expected a Kin transfer, got ${transfer?.kind}`);
      return {
        slot: solanaBody(entry).slot,
        id: base58.decode(kinHistoryCodec.transactionId(entry)),
        source: transfer.source,
        destination: transfer.destination,
        authority: transfer.authority,
        amount: transfer.amount,
      };
    });
    const expected = slots.flatMap((slot) =>
      chain.kinTransfers(slot).map(({ index: _index, ...transfer }) => transfer),
    );
    expect(expected).toHaveLength(8 * 3);
    // Blocks are read at once (in worker threads): entries of different blocks may be written in any
    // order, those of one block in block order. A stable sort by slot keeps the latter.
    written.sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0));
    expect(written).toEqual(expected);
  });
});

describe("mainnet-shaped blocks", () => {
  let chain: MainnetShapedChain;
  let server: SolanaRpcServer<MainnetShapedChain>;
  beforeAll(async () => {
    chain = await MainnetShapedChain.create({ seed: "shape", blocks: 20_000 });
    server = await SolanaRpcServer.start({ chain });
  });
  afterAll(async () => {
    await server.close();
  });

  it("has about 1,200 transactions a block, three quarters votes, and a getBlock answer of megabytes", async () => {
    const slot = chain.tipSlot;
    const block = chain.block(slot);
    expect(block?.transactions).toHaveLength(1_200);
    const votes = block?.transactions.filter((tx) => tx.kind === "vote") ?? [];
    expect(votes.length / 1_200).toBeGreaterThan(0.7);
    expect(votes.length / 1_200).toBeLessThan(0.8);
    const kinds = new Set(block?.transactions.map((tx) => tx.kind));
    expect([...kinds].sort()).toEqual(["kin-transfer", "sol-transfer", "swap", "usdc-transfer", "vote"]);
    expect(chain.kinTransfers(slot)).toHaveLength(4);

    const text = await getBlockText(server.url, slot);
    expect(text.length).toBeGreaterThan(1_500_000);
    interface Meta {
      computeUnitsConsumed: number;
      loadedAddresses: { writable: string[] };
      innerInstructions: { instructions: unknown[] }[];
      postTokenBalances: unknown[];
    }
    const result = JSON.parse(text).result as { transactions: { transaction: [string, string]; meta: Meta }[] };
    expect(result.transactions).toHaveLength(1_200);
    const vote = result.transactions.find((tx) =>
      Buffer.from(tx.transaction[0], "base64").includes(Buffer.from(getAddressEncoder().encode(VOTE_PROGRAM_ADDRESS))),
    );
    expect(vote?.meta).toMatchObject({
      err: null,
      status: { Ok: null },
      fee: 5000,
      logMessages: [`Program ${VOTE_PROGRAM_ADDRESS} invoke [1]`, `Program ${VOTE_PROGRAM_ADDRESS} success`],
      loadedAddresses: { writable: [], readonly: [] },
      preTokenBalances: [],
    });
    expect(vote?.meta.computeUnitsConsumed).toBeGreaterThan(0);
    const swap = result.transactions.find((tx) => tx.meta.loadedAddresses.writable.length > 0);
    expect(swap?.meta.innerInstructions[0]?.instructions.length).toBeGreaterThan(1);
    expect(swap?.meta.postTokenBalances.length).toBeGreaterThan(0);
  });

  it("produces the same slot byte for byte every time, and from another chain with the same seed", async () => {
    const slot = chain.blocksFrom(chain.firstSlot + 5_000n, 1)[0] as bigint;
    const again = await MainnetShapedChain.create({ seed: "shape", blocks: 20_000 });
    const first = await getBlockText(server.url, slot);
    expect(await getBlockText(server.url, slot)).toBe(first);
    const other = await SolanaRpcServer.start({ chain: again });
    try {
      expect(await getBlockText(other.url, slot)).toBe(first);
    } finally {
      await other.close();
    }
    const differentSeed = await MainnetShapedChain.create({ seed: "shape-2", blocks: 2 });
    const ids = new Set(chain.block(chain.firstSlot)?.transactions.map((tx) => idOf(tx.bytes)));
    const otherIds = differentSeed.block(chain.firstSlot)?.transactions.map((tx) => idOf(tx.bytes)) ?? [];
    expect(otherIds.filter((id) => ids.has(id))).toEqual([]);
  });

  it("gives every transaction of the chain its own id", () => {
    const slots = [...chain.blocksFrom(chain.firstSlot, 3), ...chain.blocksFrom(chain.tipSlot - 2n, 3)];
    const ids = new Set<string>();
    let count = 0;
    for (const slot of slots) {
      for (const tx of chain.block(slot)?.transactions ?? []) {
        ids.add(idOf(tx.bytes));
        count++;
      }
    }
    expect(count).toBe(slots.length * 1_200);
    expect(ids.size).toBe(count);
    for (const transfer of chain.kinTransfers(slots[0] as bigint)) expect(ids.has(transfer.id)).toBe(true);
  });

  it("links blocks like a real ledger: parents over skipped slots, blockhashes, heights and times", () => {
    const slots = chain.blocksFrom(chain.tipSlot - 300n, 500);
    expect(slots.at(-1)).toBe(chain.tipSlot);
    expect(chain.size).toBe(20_000);
    let skipped = 0;
    for (let i = 1; i < slots.length; i++) {
      const previous = chain.block(slots[i - 1] as bigint);
      const block = chain.block(slots[i] as bigint);
      expect(block?.parentSlot).toBe(previous?.slot);
      expect(block?.previousBlockhash).toBe(previous?.blockhash);
      expect(block?.blockHeight).toBe((previous?.blockHeight ?? 0n) + 1n);
      expect(block?.blockTime).toBeGreaterThanOrEqual(previous?.blockTime ?? 0);
      for (let s = (previous?.slot ?? 0n) + 1n; s < (block?.slot ?? 0n); s++) {
        expect(chain.isSkipped(s)).toBe(true);
        expect(chain.block(s)).toBeUndefined();
        skipped++;
      }
    }
    expect(skipped).toBeGreaterThan(0);
    // About the default 2 % of slots are skipped, as on mainnet: 20,000 blocks span about 20,400 slots.
    const span = Number(chain.tipSlot - chain.firstSlot) + 1;
    expect(span).toBeGreaterThan(20_100);
    expect(span).toBeLessThan(20_800);
    // Heights count blocks from the first slot's (its slot number), so the tip's says how many there are.
    expect(chain.block(chain.tipSlot)?.blockHeight).toBe(chain.firstSlot + 20_000n - 1n);
    expect(chain.block(chain.tipSlot + 1n)).toBeUndefined();
  });
});

describe("mainnet-shaped chain repeating its traffic", () => {
  it("repeats what surrounds the Kin transfers, keeps those unique, and serves what its blocks hold", async () => {
    const chain = await MainnetShapedChain.create({
      seed: "repeat",
      blocks: 9,
      transactionsPerBlock: 60,
      kinTransfersPerBlock: 2,
      skipProbability: 0,
      repeatEvery: 3,
    });
    const server = await SolanaRpcServer.start({ chain });
    try {
      const slots = chain.blocksFrom(0n, 100);
      expect(slots).toHaveLength(9);
      expect(chain.tipSlot - chain.firstSlot, "no slot skipped").toBe(8n);
      const ids = new Set<string>();
      for (const [i, slot] of slots.entries()) {
        const served = JSON.parse(await getBlockText(server.url, slot)) as {
          result: { transactions: { meta: unknown; transaction: [string, string]; version: unknown }[] };
        };
        const block = chain.block(slot);
        // The served text is the block's transactions, as the generic JSON writer would write them.
        expect(served.result.transactions).toEqual(
          block?.transactions.map((tx) => ({
            meta: tx.meta,
            transaction: [Buffer.from(tx.bytes).toString("base64"), "base64"],
            version: tx.version,
          })),
        );
        const kin = chain.kinTransfers(slot);
        for (const transfer of kin) ids.add(transfer.id);
        const repeats = slots[i % 3] as bigint;
        const others = (s: bigint) =>
          chain
            .block(s)
            ?.transactions.filter((tx) => tx.kind !== "kin-transfer")
            .map((tx) => Buffer.from(tx.bytes).toString("hex"));
        expect(others(slot)).toEqual(others(repeats));
        expect(kin.map((t) => t.index)).toEqual(chain.kinTransfers(repeats).map((t) => t.index));
      }
      expect(ids.size).toBe(9 * 2);
      const tip = solanaPointer(chain.tipSlot);
      const ingestor = new KinSolanaIngestor({ rpcUrl: server.url, startSlot: chain.firstSlot, mint: chain.mint });
      const { entries } = await collect(ingestor, null, (r) => pointersEqual(r.block, tip));
      expect(new Set(entries.map((e) => base58.decode(kinHistoryCodec.transactionId(e))))).toEqual(ids);
    } finally {
      await server.close();
    }
  });
});
