import { getEventListeners } from "node:events";
import { KinSolanaIngestor } from "@tidemark/kin";
import { afterEach, expect, it } from "vitest";
import { chainPointers } from "../src/chain-runtime.js";
import { DemoNetwork } from "../src/demo-network.js";
import { pollHead } from "../src/head-poller.js";
import { ChainState } from "../src/node-state.js";

let network: DemoNetwork | null = null;
afterEach(async () => {
  await network?.stop();
  network = null;
});

it("leaves no abort listener behind on its long-lived signal, poll after poll", async () => {
  network = await DemoNetwork.start({ blockIntervalMs: 20, maxTransactionsPerBlock: 1 });
  const ingestor = new KinSolanaIngestor({ rpcUrl: network.url });
  const state = new ChainState("kin4", ingestor.name);
  state.committedNumber = network.firstSlot;
  const service = new AbortController();
  // What each poll finds on the signal as it starts: the listeners earlier polls left behind.
  const listenersAtPoll: number[] = [];
  const lags: number[] = [];
  let thirtyPolls!: () => void;
  const polled = new Promise<void>((resolve) => {
    thirtyPolls = resolve;
  });
  const poller = pollHead({
    signal: service.signal,
    ingestor: {
      head(signal) {
        listenersAtPoll.push(getEventListeners(service.signal, "abort").length);
        if (listenersAtPoll.length === 31) thirtyPolls();
        return ingestor.head(signal);
      },
    },
    pointers: chainPointers("kin4"),
    state,
    setLag: (lag) => lags.push(lag),
    intervalMs: 5,
  });
  await polled;
  service.abort();
  await poller;

  expect(listenersAtPoll[30], `listeners at each poll: ${listenersAtPoll.join(",")}`).toBe(listenersAtPoll[0]);
  expect(getEventListeners(service.signal, "abort"), "listeners once polling ended").toHaveLength(0);
  // The polls were real: the head came from the simulated chain and the lag followed it.
  expect(state.headNumber).not.toBeNull();
  expect(state.headNumber as bigint).toBeGreaterThan(network.firstSlot as bigint);
  expect(lags.length).toBeGreaterThanOrEqual(30);
  expect(lags.at(-1)).toBe(Number((state.headNumber as bigint) - (network.firstSlot as bigint)));
});

it("returns at once for an ingestor without a head, and when the signal is already aborted", async () => {
  const state = new ChainState("kin4", "history_KIN4");
  const setLag = () => {
    throw new Error("no lag without a head");
  };
  await pollHead({
    signal: new AbortController().signal,
    ingestor: {},
    pointers: chainPointers("kin4"),
    state,
    setLag,
  });
  let polls = 0;
  const head = async () => {
    polls++;
    return chainPointers("kin4").toPointer(1n);
  };
  await pollHead({ signal: AbortSignal.abort(), ingestor: { head }, pointers: chainPointers("kin4"), state, setLag });
  expect(polls).toBe(0);
  expect(state.head).toBeNull();
});
