import { type Interval, overlaps, uniqueName } from "@tidemark/conformance";
import {
  ConfigurationError,
  isTidemarkError,
  type Pointer,
  pointerFromNumber,
  pointerToBigInt,
  run,
  SequenceIngestor,
  sleep,
} from "@tidemark/core";
import { startMongoJavaServer } from "@tidemark/test-servers";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { MongoCommitter, MongoLock } from "../src/index.js";
import { closeClient, openClient } from "./support/clients.js";
import { proxyFor } from "./support/proxy.js";
import { type CommitAttempt, RecordingCommitter } from "./support/recording-committer.js";
import { RecordingLock } from "./support/recording-lock.js";

const BLOCKS = 2000;
/**
 * How long the server stays down: longer than a holder keeps its lease
 * without a renewal (leaseMs - safetyMarginMs = 2000), so every restart also
 * costs the holder its lease and the runners contend for the lock again.
 */
const DOWN_MS = 2500;

/** The server the runners use, and how to restart it while they commit. */
interface Target {
  readonly uri: string;
  readonly describe: string;
  restart(kind: "SIGKILL" | "SIGTERM"): Promise<void>;
  close(): Promise<void>;
}

let target: Target;
beforeAll(async () => {
  if (inject("mongodbLocal")) {
    // A real restart: the H2 backend reopens the same file.
    const server = await startMongoJavaServer({ backend: "h2" });
    target = {
      uri: server.uri,
      describe: "mongo-java-server (H2 file), killed or stopped and started again",
      restart: async (kind) => {
        await server.stop({ signal: kind });
        await sleep(DOWN_MS);
        await server.start();
      },
      close: () => server.close(),
    };
  } else {
    // An external server cannot be restarted from here: cut every connection and refuse new ones for a while.
    const { proxy, uri } = await proxyFor(inject("mongodbUri"));
    target = {
      uri,
      describe: "MONGODB_URI through a proxy that drops every connection for a while",
      restart: async () => {
        proxy.down();
        await sleep(DOWN_MS);
        proxy.resume();
      },
      close: () => proxy.close(),
    };
  }
});
afterAll(async () => {
  await target?.close();
});

interface Runner {
  readonly name: string;
  /** Holdings of every incarnation of this node. */
  readonly intervals: Interval[];
  /** Every commit call of every incarnation, with its outcome. */
  readonly attempts: CommitAttempt[];
  /** How often the node was restarted after `run` gave up with ConfigurationError. */
  restarts: number;
  readonly done: Promise<void>;
}

/**
 * A node under a supervisor: its own client, lock and committer, running `run`
 * until the chain is done. When `run` rejects with ConfigurationError (the
 * server stayed unreachable for all of `connectAttempts`), the node starts
 * over with a new client, as a process supervisor would restart it. That also
 * covers a client that never recovers from a cut connection (see the README's
 * note on the driver).
 */
function startRunner(name: string, ingestor: string, key: string, signal: AbortSignal): Runner {
  const runner: Runner = { name, intervals: [], attempts: [], restarts: 0, done: Promise.resolve() };
  const incarnation = async (): Promise<boolean> => {
    const client = openClient(target.uri, { serverSelectionTimeoutMS: 1000 });
    const connection = { client, connectAttempts: 5, connectRetryMs: 100 };
    const lock = new RecordingLock(
      new MongoLock({ ...connection, key, leaseMs: 3000, heartbeatMs: 500, safetyMarginMs: 1000, pollMs: 100 }),
      name,
      runner.intervals,
    );
    try {
      await run({
        signal,
        lock,
        committer: new RecordingCommitter(new MongoCommitter(connection), runner.attempts),
        ingestor: new SequenceIngestor({ name: ingestor, delayMs: 2, concurrency: 4 }),
        writer: { write: async () => {} },
        until: pointerFromNumber(BLOCKS),
        coalesce: false,
        lockRetryMs: 200,
        restartInitialMs: 50,
        restartMaxMs: 500,
      });
      return true;
    } catch (error) {
      if (signal.aborted || !isTidemarkError(error, ConfigurationError)) throw error;
      runner.restarts++;
      return false;
    } finally {
      await closeClient(client);
    }
  };
  return Object.assign(runner, {
    done: (async () => {
      while (!(await incarnation())) {}
    })(),
  });
}

function highest(runners: Runner[]): bigint {
  let max = 0n;
  for (const runner of runners) {
    for (const attempt of runner.attempts) {
      if (attempt.outcome === "acknowledged") max = bigMax(max, pointerToBigInt(attempt.block));
    }
  }
  return max;
}

async function waitFor(runners: Runner[], block: bigint, signal: AbortSignal): Promise<void> {
  while (highest(runners) < block) await sleep(20, signal);
}

it("loses no commit and commits none twice across server restarts, with disjoint holdings", async () => {
  const ingestor = uniqueName("restart");
  const key = uniqueName("restart-lock");
  const signal = AbortSignal.timeout(150_000);
  const runners = [startRunner("runner-a", ingestor, key, signal), startRunner("runner-b", ingestor, key, signal)];
  const checker = new MongoCommitter({ client: openClient(target.uri, { serverSelectionTimeoutMS: 20_000 }) });

  for (const [at, kind] of [
    [BigInt(BLOCKS / 5), "SIGKILL"],
    [BigInt(BLOCKS / 2), "SIGTERM"],
  ] as const) {
    await waitFor(runners, at, signal);
    const acknowledged = highest(runners);
    await target.restart(kind);
    const stored = await checker.latest(ingestor);
    expect(stored === null ? 0n : pointerToBigInt(stored), `stored after the ${kind} restart`).toBeGreaterThanOrEqual(
      acknowledged,
    );
  }
  await Promise.all(runners.map((runner) => runner.done));

  // The stored chain, rebuilt from the runners' logs: from null, each link is the one acknowledged commit
  // from the current pointer, or else a commit whose outcome its caller never learned (cut off mid-flight).
  const attempts = runners.flatMap((runner) => runner.attempts);
  const acknowledged = attempts.filter((attempt) => attempt.outcome === "acknowledged");
  const id = (pointer: Pointer | null) => (pointer === null ? "null" : pointerToBigInt(pointer).toString());
  const byParent = new Map<string, CommitAttempt>();
  for (const attempt of acknowledged) {
    expect(byParent.has(id(attempt.parent)), `two acknowledged commits from ${id(attempt.parent)}`).toBe(false);
    byParent.set(id(attempt.parent), attempt);
  }
  const unknown = new Map(attempts.filter((a) => a.outcome === "unknown").map((a) => [id(a.parent), a] as const));
  const chain: CommitAttempt[] = [];
  let current: Pointer | null = null;
  while (true) {
    const next: CommitAttempt | undefined = byParent.get(id(current)) ?? unknown.get(id(current));
    if (next === undefined) break;
    chain.push(next);
    current = next.block;
  }
  const stored = (await checker.latest(ingestor)) as Pointer;
  expect(id(current), "the chain of logged commits ends at the stored pointer").toBe(id(stored));
  expect(id(stored)).toBe(String(BLOCKS));
  const onChain = new Set(chain);
  const lost = acknowledged.filter((attempt) => !onChain.has(attempt));
  expect(
    lost.map((a) => id(a.block)),
    "acknowledged commits missing from the stored chain",
  ).toEqual([]);
  // With coalescing off every commit covers one block: BLOCKS links, each block once.
  expect(chain.length).toBe(BLOCKS);

  const intervals: Interval[] = runners.flatMap((runner) => runner.intervals);
  // The first holding, and at least one more after each restart cost the holder its lease.
  const restarts = runners.map((runner) => `${runner.name} restarted ${runner.restarts}x`).join(", ");
  expect(intervals.length, `holdings (${target.describe}; ${restarts})`).toBeGreaterThanOrEqual(3);
  expect(overlaps(intervals), "overlapping holdings").toEqual([]);
});

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
