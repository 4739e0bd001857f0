import { describe, expect, it } from "vitest";
import {
  type Committer,
  ConfigurationError,
  type DistributedLock,
  InvalidArgumentError,
  InvalidCommitError,
  type Lease,
  MemoryCommitState,
  MemoryCommitter,
  MemoryLockServer,
  pointerFromNumber,
  pointerToBigInt,
  run,
  SequenceIngestor,
  sleep,
} from "../src/index.js";
import {
  committedUpTo,
  EventLog,
  fastRetries,
  memoryLock,
  noWriter,
  openHandles,
  RecordingCommitter,
} from "./support.js";

/** Checks that every write starts where the previous one ended, from nothing up to `last`. */
function expectChained(writes: RecordingCommitter["writes"], last: bigint): void {
  let previous: bigint | null = null;
  for (const write of writes) {
    expect(write.parent).toBe(previous);
    expect(write.block).toBeGreaterThan(previous ?? 0n);
    previous = write.block;
  }
  expect(previous).toBe(last);
}

describe("run", () => {
  it("commits every block in order and resolves at `until`, releasing the lock", async () => {
    const server = new MemoryLockServer();
    const committer = new RecordingCommitter();
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(server),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor({ name: "seq" }),
      until: pointerFromNumber(500),
    });
    expectChained(committer.writes, 500n);
    expect(await memoryLock(server).describe()).toBeNull();
  });

  it("rejects with the abort reason when cancelled, releases the lock and leaves no timers", async () => {
    const handlesBefore = openHandles();
    const server = new MemoryLockServer();
    const events = new EventLog();
    const controller = new AbortController();
    const running = run({
      signal: controller.signal,
      lock: memoryLock(server),
      committer: new MemoryCommitter(),
      writer: noWriter,
      ingestor: new SequenceIngestor({ delayMs: 2 }),
      onEvent: events.listener,
    });
    await events.waitFor(committedUpTo(20n));
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    expect(events.of("released")).toHaveLength(1);
    const other = memoryLock(server);
    await other.lock(AbortSignal.timeout(100));
    await other.unlock();
    await sleep(20);
    expect(openHandles()).toBeLessThanOrEqual(handlesBefore);
  });

  it("lets a commit already sent finish on shutdown, so events report what was stored", async () => {
    // Like a network request: the backend applies the write at once, the answer takes 150 ms,
    // and an aborted signal abandons the wait (the write stays applied).
    const inner = new MemoryCommitter();
    let sent = 0;
    const committer: Committer = {
      latest: (name, options) => inner.latest(name, options),
      reset: (name, expected, block, options) => inner.reset(name, expected, block, options),
      close: async () => {},
      async commit(name, parent, block, options) {
        await inner.commit(name, parent, block);
        sent++;
        await sleep(150, options?.signal);
      },
    };
    const events = new EventLog();
    const controller = new AbortController();
    const running = run({
      signal: controller.signal,
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      onEvent: events.listener,
    });
    await events.waitFor(committedUpTo(1n));
    await sleep(50);
    controller.abort(new Error("SIGTERM"));
    await expect(running).rejects.toThrow("SIGTERM");
    const stored = pointerToBigInt((await inner.latest("sequence")) as Uint8Array);
    const reported = events.of("committed").at(-1);
    expect(reported && pointerToBigInt(reported.block)).toBe(stored);
    expect(events.of("committed").length).toBe(sent);
  });

  it("keeps a single runner under contention: one committer ends at the last block, the other holds nothing", async () => {
    const server = new MemoryLockServer();
    const controller = new AbortController();
    const committers = [new RecordingCommitter(), new RecordingCommitter()];
    const events = [new EventLog(), new EventLog()];
    const runs = committers.map((committer, i) =>
      run({
        signal: controller.signal,
        lock: memoryLock(server),
        committer,
        writer: noWriter,
        ingestor: new SequenceIngestor({ lastBlock: 200n, holdOpenAtEnd: true }),
        onEvent: (events[i] as EventLog).listener,
        ...fastRetries,
      }),
    );
    await Promise.race((events as EventLog[]).map((log) => log.waitFor(committedUpTo(200n))));
    await sleep(300);
    controller.abort(new Error("done"));
    await Promise.allSettled(runs);
    const latest = await Promise.all(committers.map((c) => c.latest("sequence")));
    const ends = latest.map((p) => (p === null ? null : pointerToBigInt(p))).sort();
    expect(ends).toEqual([200n, null]);
  });

  it("restarts ingestion after a failed result and still commits every block once", async () => {
    let failed = false;
    const committer = new RecordingCommitter();
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor({
        failure: (block) => {
          if (block !== 50n || failed) return undefined;
          failed = true;
          return new Error("block 50 could not be fetched");
        },
      }),
      until: pointerFromNumber(100),
      onEvent: events.listener,
      ...fastRetries,
    });
    expectChained(committer.writes, 100n);
    expect(events.of("restart")).toHaveLength(1);
    expect(events.of("error")[0]?.stage).toBe("result");
  });

  it("restarts after a transient commit failure, with backoff", async () => {
    let failures = 2;
    const committer = new RecordingCommitter();
    committer.beforeCommit = () => {
      if (failures-- > 0) throw new Error("backend timed out");
    };
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: pointerFromNumber(30),
      onEvent: events.listener,
      ...fastRetries,
    });
    expectChained(committer.writes, 30n);
    expect(events.of("restart").map((e) => e.delayMs)).toEqual([5, 10]);
  });

  it("releases and re-acquires the lock after five consecutive failures", async () => {
    let failures = 5;
    const committer = new RecordingCommitter();
    committer.beforeCommit = () => {
      if (failures-- > 0) throw new Error("backend down");
    };
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: pointerFromNumber(10),
      onEvent: events.listener,
      ...fastRetries,
    });
    expect(events.of("restart")).toHaveLength(4);
    expect(events.of("acquired")).toHaveLength(2);
    expectChained(committer.writes, 10n);
  });

  it("does not retry an invalid commit: it releases the lock and starts over from what is stored", async () => {
    const committer = new RecordingCommitter();
    const events = new EventLog();
    let meddled = false;
    committer.beforeCommit = (parent) => {
      // Another process moves the pointer behind our back once.
      if (!meddled && parent !== null && pointerToBigInt(parent) === 10n) {
        meddled = true;
        void committer.inner.commit("sequence", parent, pointerFromNumber(15));
      }
    };
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: pointerFromNumber(40),
      coalesce: false,
      onEvent: events.listener,
      ...fastRetries,
    });
    expect(events.of("conflict")).toHaveLength(1);
    expect(events.of("conflict")[0]?.error).toBeInstanceOf(InvalidCommitError);
    expect(events.of("acquired")).toHaveLength(2);
    expect(events.of("restart")).toHaveLength(0);
    expect(committer.writes.find((w) => w.parent === 15n)?.block).toBe(16n);
    expect(pointerToBigInt((await committer.latest("sequence")) as Uint8Array)).toBe(40n);
  });

  it("stops committing at once when the lease is lost mid-ingestion and goes back to acquiring", async () => {
    const server = new MemoryLockServer();
    const committer = new RecordingCommitter();
    const events = new EventLog();
    const controller = new AbortController();
    const running = run({
      signal: controller.signal,
      lock: memoryLock(server),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor({ delayMs: 5, concurrency: 1 }),
      onEvent: events.listener,
      ...fastRetries,
    });
    await events.waitFor(committedUpTo(10n));
    const firstToken = events.of("acquired")[0]?.token;
    server.revoke("ingestor_history_test");
    await events.waitFor((e) => e.type === "lost");
    const writesAtLoss = committer.writes.length;
    await events.waitFor((e) => e.type === "acquired" && e.token !== firstToken);
    const afterLoss = committer.writes.slice(writesAtLoss);
    expect(afterLoss.every((w) => w.token !== firstToken)).toBe(true);
    await events.waitFor(committedUpTo(30n));
    controller.abort(new Error("done"));
    await expect(running).rejects.toThrow("done");
    expect(committer.writes.filter((w) => w.token === firstToken).length).toBe(writesAtLoss);
  });

  it("rejects, after releasing the lock, on a configuration error from the lock", async () => {
    let unlocked = 0;
    const lock: DistributedLock = {
      lock: async () => {
        throw new ConfigurationError('lock table "tx-history-locks" does not exist');
      },
      unlock: async () => {
        unlocked++;
      },
      close: async () => {},
    };
    await expect(
      run({
        signal: AbortSignal.timeout(5000),
        lock,
        committer: new MemoryCommitter(),
        writer: noWriter,
        ingestor: new SequenceIngestor(),
      }),
    ).rejects.toBeInstanceOf(ConfigurationError);
    expect(unlocked).toBe(0);
  });

  it("rejects on a structural error from the committer after releasing the lock", async () => {
    const server = new MemoryLockServer();
    const committer = new RecordingCommitter();
    committer.beforeCommit = () => {
      throw new InvalidArgumentError("block must be a Uint8Array");
    };
    await expect(
      run({
        signal: AbortSignal.timeout(5000),
        lock: memoryLock(server),
        committer,
        writer: noWriter,
        ingestor: new SequenceIngestor(),
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await memoryLock(server).describe()).toBeNull();
  });

  it("retries a lock that fails for other reasons", async () => {
    let attempts = 0;
    const lease: Lease = { signal: new AbortController().signal, token: 1n };
    const lock: DistributedLock = {
      lock: async () => {
        if (++attempts < 3) throw new Error("lock table throttled");
        return lease;
      },
      unlock: async () => {},
      close: async () => {},
    };
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(5000),
      lock,
      committer: new MemoryCommitter(),
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: pointerFromNumber(5),
      onEvent: events.listener,
      ...fastRetries,
    });
    expect(attempts).toBe(3);
    expect(events.of("error").map((e) => e.stage)).toEqual(["lock", "lock"]);
  });

  it("releases and re-acquires when the queue ends, as the original did", async () => {
    const committer = new RecordingCommitter(new MemoryCommitter({ state: new MemoryCommitState() }));
    const events = new EventLog();
    const ingestor = new SequenceIngestor({ lastBlock: 5n });
    const controller = new AbortController();
    const running = run({
      signal: controller.signal,
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor,
      onEvent: events.listener,
      ...fastRetries,
    });
    await events.waitFor(() => events.of("acquired").length >= 3);
    controller.abort(new Error("done"));
    await expect(running).rejects.toThrow("done");
    expect(events.of("released").length).toBeGreaterThanOrEqual(2);
    expectChained(committer.writes, 5n);
  });
});

describe("run with commit coalescing", () => {
  it("covers several settled blocks per write with a slow committer, each write chaining onto the last", async () => {
    const committer = new RecordingCommitter();
    committer.delayMs = 10;
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: pointerFromNumber(300),
      onEvent: events.listener,
    });
    expectChained(committer.writes, 300n);
    expect(committer.writes.length).toBeLessThan(100);
    expect(Math.max(...events.of("committed").map((e) => e.span))).toBeGreaterThan(1);
    expect(events.of("committed").reduce((sum, e) => sum + e.span, 0)).toBe(300);
  });

  it("makes exactly one write per block when off", async () => {
    const committer = new RecordingCommitter();
    committer.delayMs = 2;
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: pointerFromNumber(100),
      coalesce: false,
      onEvent: events.listener,
    });
    expect(committer.writes).toHaveLength(100);
    expect(committer.writes.every((w, i) => w.block === BigInt(i + 1))).toBe(true);
    expect(events.of("committed").every((e) => e.span === 1)).toBe(true);
  });

  it("never spans more than maxCommitSpan blocks", async () => {
    const committer = new RecordingCommitter();
    committer.delayMs = 10;
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: pointerFromNumber(200),
      maxCommitSpan: 4,
      onEvent: events.listener,
    });
    expect(Math.max(...events.of("committed").map((e) => e.span))).toBe(4);
    expectChained(committer.writes, 200n);
  });

  it("commits the good blocks before a failed one, then restarts from there", async () => {
    let failed = false;
    const committer = new RecordingCommitter();
    committer.delayMs = 5;
    await run({
      signal: AbortSignal.timeout(20_000),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor({
        failure: (block) => {
          if (block !== 77n || failed) return undefined;
          failed = true;
          return new Error("boom");
        },
      }),
      until: pointerFromNumber(150),
      ...fastRetries,
    });
    expectChained(committer.writes, 150n);
    expect(committer.writes.some((w) => w.block === 76n)).toBe(true);
  });
});
