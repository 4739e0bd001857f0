import { createSolanaRpc, isSolanaError, type Slot } from "@solana/kit";
import { sleep } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Entry, KinSolanaIngestor, kinInstructions } from "../src/index.js";
import {
  KinBlockFactory,
  KinNetworkSimulator,
  SolanaChain,
  SolanaRpcServer,
  seededRandom,
} from "../src/simulator/index.js";

describe("Solana RPC simulator", () => {
  let server: SolanaRpcServer;
  let chain: SolanaChain;
  beforeAll(async () => {
    const factory = await KinBlockFactory.create({ seed: "rpc" });
    chain = new SolanaChain({ finalizationLag: 1 });
    chain.append([await factory.transfer(0, 1, 5n, { version: 0 })], { slot: 10n });
    chain.append([await factory.transfer(1, 2, 5n)], { slot: 12n });
    chain.append([await factory.transfer(2, 3, 5n)], { slot: 13n });
    server = await SolanaRpcServer.start({ chain });
  });
  afterAll(async () => {
    await server.close();
  });

  it("answers the node's errors for skipped, unfinalized and version-gated blocks", async () => {
    const rpc = createSolanaRpc(server.url);
    const codeOf = async (promise: Promise<unknown>) =>
      promise.then(
        () => null,
        (e: unknown) => (isSolanaError(e) ? e.context.__code : e),
      );
    expect(await codeOf(rpc.getBlock(11n as Slot, { maxSupportedTransactionVersion: 0 }).send())).toBe(-32007);
    expect(
      await codeOf(rpc.getBlock(13n as Slot, { commitment: "finalized", maxSupportedTransactionVersion: 0 }).send()),
    ).toBe(-32004);
    expect(await codeOf(rpc.getBlock(10n as Slot).send())).toBe(-32015);
    expect(await rpc.getBlocksWithLimit(0n as Slot, 10, { commitment: "finalized" }).send()).toEqual([10n, 12n]);
    expect(await rpc.getSlot({ commitment: "finalized" }).send()).toBe(12n);
    expect(await rpc.getSlot({ commitment: "processed" }).send()).toBe(13n);
    expect((await rpc.getLatestBlockhash({ commitment: "finalized" }).send()).value.blockhash).toBe(
      chain.block(12n)?.blockhash,
    );
    expect(await rpc.getHealth().send()).toBe("ok");
  });

  it("holds a request until its gate opens, then answers it as usual", async () => {
    const rpc = createSolanaRpc(server.url);
    let open!: () => void;
    const gate = server.faults.add({
      method: "getSlot",
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "hold", until: new Promise<void>((resolve) => (open = resolve)) },
    });
    try {
      let answered = false;
      const slot = rpc
        .getSlot({ commitment: "finalized" })
        .send()
        .then((value) => {
          answered = true;
          return value;
        });
      // However long the request takes to arrive on a loaded machine: it is held from then on.
      while (gate.hits === 0) await sleep(10);
      // Other methods pass; the held one waits however long the gate stays shut.
      expect(await rpc.getHealth().send()).toBe("ok");
      await sleep(100);
      expect(answered).toBe(false);
      open();
      expect(await slot).toBe(12n);
    } finally {
      open();
      gate.remove();
    }
  });

  it("counts requests per method", () => {
    expect(server.requests("getBlock")).toBeGreaterThanOrEqual(3);
    expect(server.requests()).toBeGreaterThan(server.requests("getBlock"));
  });
});

describe("Kin network simulator", () => {
  let simulator: KinNetworkSimulator;
  beforeAll(async () => {
    simulator = await KinNetworkSimulator.start({
      blockIntervalMs: 400,
      random: seededRandom(42),
      skipProbability: 0.2,
    });
  });
  afterAll(async () => {
    await simulator.stop();
  });

  it("produces a block every 400 ms with Kin traffic an ingestor picks up", async () => {
    const start = simulator.chain.tip?.slot as bigint;
    const startedAt = performance.now();
    while (simulator.chain.blocksFrom(start, 100).length < 4 && performance.now() - startedAt < 10_000) await sleep(20);
    // Three more blocks: never sooner than three intervals (less a little timer slack), however fast the machine.
    expect(simulator.chain.blocksFrom(start, 100).length).toBeGreaterThanOrEqual(4);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(3 * 400 - 450);
    const ingestor = new KinSolanaIngestor({ rpcUrl: simulator.url, startSlot: start });
    const controller = new AbortController();
    const entries: Entry[] = [];
    const queue = await ingestor.ingest(controller.signal, { write: async (e) => void entries.push(e) }, null);
    const iterator = queue[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) expect((await (await iterator.next()).value).error).toBeUndefined();
    controller.abort();
    await iterator.return?.();
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(kinInstructions(entry).length).toBeGreaterThan(0);
  });
});
