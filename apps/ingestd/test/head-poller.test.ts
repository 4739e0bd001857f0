import { getEventListeners } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { KinSolanaIngestor } from "@tidemark/kin";
import { SqliteCommitter } from "@tidemark/sqlite";
import { afterEach, expect, it } from "vitest";
import { chainPointers } from "../src/chain-runtime.js";
import { DemoNetwork } from "../src/demo-network.js";
import { pollHead } from "../src/head-poller.js";
import { ChainState } from "../src/node-state.js";
import { chainReadiness } from "../src/readiness.js";
import { until } from "./health-probe.js";

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

it("reads the committed pointer from the store each poll, and counts a failing read as a store failure until a read succeeds", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tidemark-poll-"));
  const path = join(dir, "poll.db");
  const committer = new SqliteCommitter({ path });
  // A second connection plays the operator who drops the table under the running node, then restores it.
  const operator = new DatabaseSync(path);
  const pointers = chainPointers("kin4");
  const state = new ChainState("kin4", "history_KIN4");
  const service = new AbortController();
  const poller = pollHead({
    signal: service.signal,
    ingestor: {},
    pointers,
    state,
    setLag: () => {},
    readCommitted: (signal) => committer.latest("history_KIN4", { signal }),
    describeFailure: (error) => `read failed: ${(error as Error).message}`,
    intervalMs: 10,
  });
  try {
    await committer.commit("history_KIN4", null, pointers.toPointer(40n));
    await until("the store to be read", () => (state.committedNumber === 40n ? true : undefined));
    expect(state.storeReadAt).not.toBeNull();
    const rules = { readyLag: 10n, unreadyAfterFailures: 2, storeFreshMs: 15_000 };

    operator.exec("DROP TABLE tidemark_commits");
    const streak = await until("two failed store reads", () => {
      const longest = state.requests.longest();
      return longest && longest.failures >= 2 ? longest : undefined;
    });
    expect(streak).toMatchObject({ request: "committer.latest(history_KIN4)", kind: "store" });
    expect(streak.reason).toMatch(/^read failed: .*tidemark_commits/);
    const unready = chainReadiness(state, rules);
    expect(unready.ready).toBe(false);
    expect(unready.failing).toMatchObject({ request: "committer.latest(history_KIN4)", kind: "store" });

    // The table is back with a newer pointer: the next read ends the streak and moves the committed block.
    const restored = new SqliteCommitter({ path });
    await restored.commit("history_KIN4", null, pointers.toPointer(41n));
    await restored.close();
    await until("the store to answer again", () => (state.committedNumber === 41n ? true : undefined));
    expect(state.requests.longest()).toBeNull();
    expect(state.requests.lastKind).toBe("store");
    // Dozens of polls later, at most the current read's and the current sleep's listeners are on the signal.
    expect(getEventListeners(service.signal, "abort").length).toBeLessThanOrEqual(2);
    // No head known (this ingestor has none): still unready, but no longer for the store.
    expect(chainReadiness(state, rules)).toMatchObject({ ready: false, reasons: ["the chain head is not known yet"] });
  } finally {
    service.abort();
    await poller;
    operator.close();
    await committer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
