import { sleep } from "@tidemark/core";
import { describe, expect, it } from "vitest";
import { KIN3_MAINNET, KinSolanaIngestor, KinStellarIngestor } from "../src/index.js";
import { HorizonServer, KinBlockFactory, SolanaChain, SolanaRpcServer } from "../src/simulator/index.js";
import { collect, first } from "./support/ingest.js";
import { kinScenario } from "./support/scenario.js";

/** Timers and sockets alive in this worker right now. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === "Timeout" || kind.startsWith("TCP")) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** What is alive beyond `baseline` (the test runner's own handles come and go; only growth counts). */
async function leftover(baseline: Record<string, number>): Promise<Record<string, number>> {
  let extra: Record<string, number> = {};
  // Closed sockets and cleared timers leave the list over the next turns of the event loop.
  for (let i = 0; i < 40; i++) {
    extra = {};
    for (const [kind, count] of Object.entries(handles()))
      if (count > (baseline[kind] ?? 0)) extra[kind] = count - (baseline[kind] ?? 0);
    if (Object.keys(extra).length === 0) return extra;
    await sleep(50);
  }
  return extra;
}

describe("resources", () => {
  it("leaves no timer or socket behind once a Kin4 ingestion is aborted and its node closed", async () => {
    const baseline = handles();
    const factory = await KinBlockFactory.create({ seed: "resources" });
    const chain = new SolanaChain();
    chain.append([await factory.transfer(0, 1, 5n)], { slot: 7n });
    const server = await SolanaRpcServer.start({ chain });
    // Caught up after one block: the ingestor is sleeping in its poll when aborted.
    await collect(new KinSolanaIngestor({ rpcUrl: server.url, startSlot: 7n }), null, first(1));
    await sleep(100);
    await server.close();
    expect(await leftover(baseline)).toEqual({});
  });

  it("leaves no timer, socket or event stream behind once a Horizon ingestion is aborted", async () => {
    const baseline = handles();
    const scenario = kinScenario(KIN3_MAINNET, 10, 3);
    const server = await HorizonServer.start({ ledgers: scenario.ledgers });
    await collect(new KinStellarIngestor({ horizonUrl: server.url, allowHttp: true }), null, first(3));
    for (let i = 0; i < 40 && server.openStreams > 0; i++) await sleep(50);
    expect(server.openStreams).toBe(0);
    await server.close();
    expect(await leftover(baseline)).toEqual({});
  });
});
