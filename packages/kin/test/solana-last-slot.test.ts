import { InvalidArgumentError, pointerToHex, type Result } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KinSolanaIngestor, slotFromPointer, solanaBody, solanaPointer } from "../src/index.js";
import { KinBlockFactory, SolanaChain, SolanaRpcServer } from "../src/simulator/index.js";
import { ArrayWriter } from "./support/ingest.js";

/** Reads results until the queue has produced nothing for `quietMs`; returns them and what was written. */
async function drain(ingestor: KinSolanaIngestor, parent: bigint | null, quietMs = 2500) {
  const controller = new AbortController();
  const writer = new ArrayWriter();
  const queue = await ingestor.ingest(controller.signal, writer, parent === null ? null : solanaPointer(parent));
  const iterator = queue[Symbol.asyncIterator]();
  const results: Result[] = [];
  try {
    while (true) {
      const quiet = new Promise<"quiet">((resolve) => setTimeout(() => resolve("quiet"), quietMs).unref());
      const step = await Promise.race([iterator.next(), quiet]);
      if (step === "quiet" || step.done) break;
      results.push(await step.value);
    }
  } finally {
    controller.abort(new Error("drained"));
    await iterator.return?.();
  }
  return { results, entries: writer.entries, slots: results.map((r) => slotFromPointer(r.block)) };
}

describe("Kin4 ingestor with lastSlot", () => {
  let chain: SolanaChain;
  let server: SolanaRpcServer;
  let factory: KinBlockFactory;
  beforeAll(async () => {
    factory = await KinBlockFactory.create({ seed: "last-slot" });
    chain = new SolanaChain();
    // Blocks at 700..704, 706, 708..709: 705 and 707 are skipped. Every block carries a Kin transfer.
    for (const slot of [700n, 701n, 702n, 703n, 704n, 706n, 708n, 709n]) {
      chain.append([await factory.transfer(Number(slot % 3n), Number((slot + 1n) % 3n), slot)], { slot });
    }
    server = await SolanaRpcServer.start({ chain });
  });
  afterAll(async () => {
    await server.close();
  });

  it("stops at a lastSlot that has a block, fetching nothing beyond it", async () => {
    server.resetCounters();
    const { results, entries, slots } = await drain(
      new KinSolanaIngestor({ rpcUrl: server.url, lastSlot: 703n }),
      700n,
    );
    expect(slots).toEqual([701n, 702n, 703n]);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    // Blocks are read concurrently: their entries may be written in any order.
    expect(entries.map((e) => solanaBody(e).slot).sort()).toEqual([701n, 702n, 703n]);
    expect(server.requests("getBlock")).toBe(3);
  });

  it("delivers a skipped lastSlot as one empty result once the chain is finalized past it", async () => {
    const { results, entries, slots } = await drain(
      new KinSolanaIngestor({ rpcUrl: server.url, lastSlot: 705n }),
      703n,
    );
    expect(slots).toEqual([704n, 705n]);
    expect(pointerToHex(results[1]?.parent ?? null)).toBe(pointerToHex(solanaPointer(704n)));
    expect(entries.map((e) => solanaBody(e).slot)).toEqual([704n]);
  });

  it("delivers only the empty result when the range holds no block at all", async () => {
    const { results, entries } = await drain(new KinSolanaIngestor({ rpcUrl: server.url, lastSlot: 707n }), 706n);
    expect(results.map((r) => [pointerToHex(r.parent), pointerToHex(r.block)])).toEqual([
      [pointerToHex(solanaPointer(706n)), pointerToHex(solanaPointer(707n))],
    ]);
    expect(entries).toEqual([]);
  });

  it("produces nothing when the parent already is lastSlot", async () => {
    server.resetCounters();
    const { results } = await drain(new KinSolanaIngestor({ rpcUrl: server.url, lastSlot: 704n }), 704n, 1500);
    expect(results).toEqual([]);
    expect(server.requests()).toBe(0);
  });

  it("waits while lastSlot is not finalized, then finishes once it is", async () => {
    chain.setFinalizedSlot(704n);
    try {
      const ingestor = new KinSolanaIngestor({ rpcUrl: server.url, lastSlot: 707n });
      const controller = new AbortController();
      const writer = new ArrayWriter();
      const queue = await ingestor.ingest(controller.signal, writer, solanaPointer(703n));
      const iterator = queue[Symbol.asyncIterator]();
      try {
        expect(slotFromPointer((await (await iterator.next()).value).block)).toBe(704n);
        // 705 is skipped but not finalized yet: nothing may claim the range is over.
        const pending = iterator.next();
        const early = await Promise.race([
          pending.then(() => "result"),
          new Promise((resolve) => setTimeout(() => resolve("waiting"), 2500).unref()),
        ]);
        expect(early).toBe("waiting");
        chain.setFinalizedSlot(null);
        // The pending step resolves with 706 (a block), the next one with the skipped end 707.
        const rest = [slotFromPointer((await (await pending).value).block)];
        rest.push(slotFromPointer((await (await iterator.next()).value).block));
        expect(rest).toEqual([706n, 707n]);
        expect(writer.entries.map((e) => solanaBody(e).slot).sort()).toEqual([704n, 706n]);
      } finally {
        controller.abort(new Error("done"));
        await iterator.return?.();
      }
    } finally {
      chain.setFinalizedSlot(null);
    }
  });

  it("never takes a lastSlot finalized just after an empty listing for skipped", async () => {
    chain.setFinalizedSlot(707n);
    // The listing of 708.. comes back empty, then 708 (a block with a Kin transfer) is finalized at once.
    server.faults.add({
      method: "getBlocksWithLimit",
      fault: {
        kind: "mutate",
        mutate: (result) => {
          chain.setFinalizedSlot(null);
          return result;
        },
      },
    });
    try {
      const { results, entries, slots } = await drain(
        new KinSolanaIngestor({ rpcUrl: server.url, lastSlot: 708n }),
        707n,
      );
      expect(slots).toEqual([708n]);
      expect(results[0]?.error).toBeUndefined();
      expect(entries.map((e) => solanaBody(e).slot)).toEqual([708n]);
    } finally {
      server.faults.clear();
      chain.setFinalizedSlot(null);
    }
  });

  it("refuses a lastSlot before startSlot", () => {
    expect(() => new KinSolanaIngestor({ rpcUrl: server.url, startSlot: 10n, lastSlot: 9n })).toThrow(
      InvalidArgumentError,
    );
  });
});
