/**
 * Edge cases of `run` that a first implementation got wrong: hot loops between
 * holdings, spans hiding a backwards block, listener isolation, queues that
 * throw, and a null `until`.
 */
import { describe, expect, it } from "vitest";
import {
  BoundedResultQueue,
  ConfigurationError,
  type DistributedLock,
  type Ingestor,
  MemoryCommitter,
  type Pointer,
  pointerToBigInt,
  type Result,
  type ResultQueue,
  type RunEvent,
  run,
  SequenceIngestor,
} from "../src/index.js";
import { EventLog, fastRetries, memoryLock, noWriter, p, RecordingCommitter } from "./support.js";

/**
 * Wraps a lock and gives up with a fatal ConfigurationError after `cap` calls,
 * so a test of a run that spins without yielding still terminates.
 */
function cappedLock(inner: DistributedLock, cap: number): DistributedLock & { calls: number } {
  const wrapper = {
    calls: 0,
    lock: async (signal: AbortSignal) => {
      if (++wrapper.calls > cap)
        throw new ConfigurationError(`lock() called ${cap} times without the event loop turning`);
      return inner.lock(signal);
    },
    unlock: () => inner.unlock(),
    close: () => inner.close(),
  };
  return wrapper;
}

/** Aborts after `ms` on a timer, like a SIGTERM handler or a deadline would. */
function abortAfter(ms: number): { signal: AbortSignal; reason: Error } {
  const controller = new AbortController();
  const reason = new Error("deadline");
  setTimeout(() => controller.abort(reason), ms);
  return { signal: controller.signal, reason };
}

describe("run edge cases", () => {
  // Bug 1a: after "release" (queue ended), run re-acquires immediately with no pause.
  // With MemoryLock + MemoryCommitter + SequenceIngestor every step settles through
  // microtasks only, so the loop never yields to the event loop: timers (the abort
  // deadline, the lock heartbeat) never fire and `run` cannot be stopped.
  it("a result queue that ends at once does not starve the event loop: a timer-based abort still stops run", async () => {
    const committer = new MemoryCommitter();
    await committer.commit("sequence", null, p(5)); // the chain's head is already committed
    const lock = cappedLock(memoryLock(), 2000);
    const { signal, reason } = abortAfter(50);
    const outcome = await run({
      signal,
      lock,
      committer,
      writer: noWriter,
      ingestor: new SequenceIngestor({ lastBlock: 5n }), // each session's queue ends immediately
      ...fastRetries,
    }).catch((error: unknown) => error);
    expect(outcome).toBe(reason);
    expect(lock.calls).toBeLessThan(100);
  });

  // Bug 1b: lock.lock() resolving with an already-aborted lease makes run spin
  // acquire -> lost -> release -> acquire with no delay (same root cause).
  it("a lock that hands out an already-aborted lease is retried after lockRetryMs, not in a hot loop", async () => {
    const dead = new AbortController();
    dead.abort(new Error("lease expired before it was handed out"));
    const lock = cappedLock(
      { lock: async () => ({ signal: dead.signal, token: 1n }), unlock: async () => {}, close: async () => {} },
      2000,
    );
    const { signal, reason } = abortAfter(100);
    const outcome = await run({
      signal,
      lock,
      committer: new MemoryCommitter(),
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      ...fastRetries,
    }).catch((error: unknown) => error);
    expect(outcome).toBe(reason);
    // lockRetryMs is 20 ms: about 5 attempts in 100 ms, certainly not thousands.
    expect(lock.calls).toBeLessThan(50);
  });

  // Bug 2: coalescing defeats the committer's "block must advance past parent" check
  // for every result except the batch's endpoints.
  it("does not coalesce a result whose block does not advance past its parent (committer must judge it)", async () => {
    // Chain as produced by a faulty ingestor: 1, 3, then a regression to 2, then 4.
    const bad: Result[] = [
      { parent: null, block: p(1) },
      { parent: p(1), block: p(3) },
      { parent: p(3), block: p(2) },
      { parent: p(2), block: p(4) },
    ];
    const ingestor: Ingestor = {
      name: "regressing",
      ingest: async (signal: AbortSignal, _writer, parent: Pointer | null): Promise<ResultQueue> => {
        const queue = new BoundedResultQueue({ signal });
        if (parent === null) for (const result of bad) void queue.push(Promise.resolve(result));
        return queue; // stays open: a chain waiting for its next block
      },
    };
    const committer = new RecordingCommitter();
    const events = new EventLog();
    await run({
      signal: AbortSignal.timeout(500),
      lock: memoryLock(),
      committer,
      writer: noWriter,
      ingestor,
      until: p(4),
      onEvent: events.listener,
      ...fastRetries,
    }).catch(() => {});
    // One write per block (coalesce: false) commits 1 and 3, then 3 -> 2 is an InvalidCommitError.
    // Coalesced, the whole run goes out as commit(null -> 4) and the regression is accepted.
    expect(committer.writes.map((w) => w.block)).not.toContain(4n);
    expect(pointerToBigInt((await committer.latest("regressing")) as Pointer)).toBe(3n);
    expect(events.of("conflict").length).toBeGreaterThanOrEqual(1);
  });

  // Bug 3: a throwing Metrics.observe suppresses onEvent for every event.
  it("delivers every event to onEvent even when metrics.observe throws", async () => {
    const events: RunEvent[] = [];
    await run({
      signal: AbortSignal.timeout(5000),
      lock: memoryLock(),
      committer: new MemoryCommitter(),
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: p(5),
      metrics: {
        observe: () => {
          throw new Error("label cardinality exceeded");
        },
      },
      onEvent: (event) => events.push(event),
    });
    expect(events.map((e) => e.type)).toContain("acquired");
    expect(events.map((e) => e.type)).toContain("committed");
    expect(events.map((e) => e.type)).toContain("released");
  });

  // Bug 4: a queue iterator whose next() throws synchronously on a later call (not
  // the first) leaves SettledBatchReader#pulling stuck at true and escapes as an
  // unhandled rejection from a .then/.finally callback; the reader never wakes and
  // run stalls until the lease or signal ends instead of restarting ingestion.
  it("treats a queue whose next() throws synchronously like one that rejects: error event and restart", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let sessions = 0;
      const ingestor: Ingestor = {
        name: "throwing-next",
        ingest: async (_signal, _writer, parent) => {
          sessions++;
          let calls = 0;
          const start = parent === null ? 0 : Number(pointerToBigInt(parent));
          const queue: ResultQueue = {
            [Symbol.asyncIterator]: () => ({
              next: () => {
                if (++calls === 1) {
                  const result: Result = { parent, block: p(start + 1) };
                  return Promise.resolve({ done: false, value: Promise.resolve(result) });
                }
                throw new Error("rpc socket closed");
              },
            }),
          };
          return queue;
        },
      };
      const events = new EventLog();
      await run({
        signal: AbortSignal.timeout(400),
        lock: memoryLock(),
        committer: new MemoryCommitter(),
        writer: noWriter,
        ingestor,
        onEvent: events.listener,
        ...fastRetries,
      }).catch(() => {});
      expect(events.of("error").length).toBeGreaterThanOrEqual(1);
      expect(sessions).toBeGreaterThan(1);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  // Bug 5: `until: null` passes validation (assertPointerOrNull) but #reached then
  // calls comparePointers(pointer, null) and throws a TypeError on every session:
  // run never commits anything and loops on "error" events forever.
  it("`until: null` is either rejected up front or means no limit; it must not make every session fail", async () => {
    const events = new EventLog();
    const outcome = await run({
      signal: AbortSignal.timeout(300),
      lock: memoryLock(),
      committer: new MemoryCommitter(),
      writer: noWriter,
      ingestor: new SequenceIngestor(),
      until: null as unknown as Pointer,
      onEvent: events.listener,
      ...fastRetries,
    }).catch((error: unknown) => error);
    const rejectedUpFront = outcome instanceof Error && outcome.name === "InvalidArgumentError";
    if (!rejectedUpFront) {
      expect(events.of("committed").length).toBeGreaterThan(0);
      expect(events.of("error")).toEqual([]);
    }
  });
});
