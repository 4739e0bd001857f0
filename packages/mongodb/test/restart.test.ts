import { type Interval, overlaps, uniqueName } from "@tidemark/conformance";
import { type Pointer, pointerFromNumber, pointerToBigInt, run, SequenceIngestor, sleep } from "@tidemark/core";
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
  /** Its holdings. */
  readonly intervals: Interval[];
  /** Every commit call, with its outcome. */
  readonly attempts: CommitAttempt[];
  /** Resolves once `run` reached the end of the chain; rejects if `run` gave up. */
  readonly done: Promise<void>;
  /** Why `run` gave up, once it has. */
  failure?: unknown;
}

/**
 * A node: its own client, lock and committer, running `run` once until the
 * chain is done. No supervisor restarts it: an outage is BackendUnavailableError,
 * which `run` retries, so the same `run` call and client must carry on.
 */
function startRunner(name: string, ingestor: string, key: string, signal: AbortSignal): Runner {
  const intervals: Interval[] = [];
  const attempts: CommitAttempt[] = [];
  const client = openClient(target.uri, { serverSelectionTimeoutMS: 1000 });
  const done = (async () => {
    try {
      await run({
        signal,
        lock: new RecordingLock(
          new MongoLock({ client, key, leaseMs: 3000, heartbeatMs: 500, safetyMarginMs: 1000, pollMs: 100 }),
          name,
          intervals,
        ),
        committer: new RecordingCommitter(new MongoCommitter({ client }), attempts),
        ingestor: new SequenceIngestor({ name: ingestor, delayMs: 2, concurrency: 4 }),
        writer: { write: async () => {} },
        until: pointerFromNumber(BLOCKS),
        coalesce: false,
        lockRetryMs: 200,
        restartInitialMs: 50,
        restartMaxMs: 500,
      });
    } finally {
      await closeClient(client);
    }
  })();
  const runner: Runner = { name, intervals, attempts, done };
  done.catch((error: unknown) => (runner.failure = error ?? new Error("run rejected")));
  return runner;
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
  while (highest(runners) < block) {
    const failed = runners.find((runner) => runner.failure !== undefined);
    if (failed) throw new Error(`${failed.name}: run gave up: ${String(failed.failure)}`, { cause: failed.failure });
    await sleep(20, signal);
  }
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
  expect(intervals.length, `holdings (${target.describe})`).toBeGreaterThanOrEqual(3);
  expect(overlaps(intervals), "overlapping holdings").toEqual([]);
});

function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
