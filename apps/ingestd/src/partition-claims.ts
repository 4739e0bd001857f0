import {
  type Committer,
  comparePointers,
  type DistributedLock,
  type Logger,
  silentLogger,
  sleep,
} from "@tidemark/core";
import type { BackfillPlan, Partition } from "./backfill-plan.js";
import { mapLimited } from "./backfill-visibility.js";

export interface PartitionClaimsOptions {
  readonly plan: BackfillPlan;
  /** Partitions worked on at once by this node. */
  readonly capacity: number;
  readonly committer: Committer;
  /** The lock of `partition` (called once per partition; the locks stay open until the store closes). */
  readonly createLock: (partition: Partition) => DistributedLock;
  /**
   * Ingests `partition` to its end while holding `lock` (core's `run` with
   * `until`): called with the lock already held, so its first `lock()`
   * resolves at once. Resolves once the partition's pointer reached its end.
   */
  readonly work: (partition: Partition, lock: DistributedLock, signal: AbortSignal) => Promise<void>;
  /** Stops claiming and working; the returned promise rejects with its reason. */
  readonly signal: AbortSignal;
  /**
   * The most one attempt on a lock that looked free may take, in ms (default
   * 2000). Another node may take it meanwhile; then this one moves on.
   */
  readonly tryMs?: number;
  /**
   * How long to wait on locks other nodes hold when no partition is free, in
   * ms. It must exceed their lease, so a crashed holder's expiry is seen
   * (default 30 000); it ends early when a slot frees.
   */
  readonly watchMs?: number;
  readonly logger?: Logger;
  /** Told when this node starts or stops working on a partition, and when one is found done. */
  readonly onChange?: (partition: Partition, state: "working" | "idle" | "done") => void;
}

/** Held locks watched at once while waiting for a crashed holder's lease to run out. */
const WATCH_LIMIT = 16;

/**
 * Works on up to `capacity` partitions of `plan` at once until every one is
 * done, whoever did it. A partition whose pointer reached its end is skipped
 * without taking its lock. Claiming never waits on a lock another node holds:
 * a lock that is held (or taken first by someone else) is passed over for the
 * next free one. Only when nothing is free does it wait on held locks, long
 * enough to see a crashed holder's lease expire, and take such a partition
 * over. Resolves when every partition is done; rejects on `signal` or when a
 * partition's work fails (a fatal error of `run`).
 */
export async function claimPartitions(options: PartitionClaimsOptions): Promise<void> {
  const { plan, capacity, committer, signal } = options;
  const log = options.logger ?? silentLogger;
  const tryMs = options.tryMs ?? 2000;
  const watchMs = options.watchMs ?? 30_000;
  const locks = new Map<number, DistributedLock>();
  const lockOf = (p: Partition) => {
    let lock = locks.get(p.index);
    if (lock === undefined) {
      lock = options.createLock(p);
      locks.set(p.index, lock);
    }
    return lock;
  };
  const done = new Set<number>();
  const running = new Map<number, Promise<void>>();
  // Aborts every partition's work when one fails, or when `signal` does.
  const stop = new AbortController();
  const stopSignal = AbortSignal.any([signal, stop.signal]);
  const failures: unknown[] = [];
  let slotFreed = signalled();
  let watchOffset = 0;

  const isDone = async (p: Partition): Promise<boolean> => {
    if (done.has(p.index)) return true;
    const pointer = await committer.latest(p.ingestor, { signal: stopSignal });
    if (pointer !== null && comparePointers(pointer, p.range.through) >= 0) {
      done.add(p.index);
      options.onChange?.(p, "done");
      return true;
    }
    return false;
  };
  const start = (p: Partition, lock: DistributedLock) => {
    log.info({ partition: p.ingestor, lockKey: p.lockKey }, "backfill: working on a partition");
    options.onChange?.(p, "working");
    const work = options
      .work(p, lock, stopSignal)
      .then(
        async () => {
          await isDone(p).catch(() => false);
        },
        (error: unknown) => {
          if (!stopSignal.aborted) {
            failures.push(error);
            stop.abort(error);
          }
        },
      )
      .finally(() => {
        running.delete(p.index);
        // "done" was told when the pointer was seen at the end.
        if (!done.has(p.index)) options.onChange?.(p, "idle");
        slotFreed.resolve();
      });
    running.set(p.index, work);
  };
  /** Takes `p`'s lock within `attempt`; false when another node holds it or it turned out done. */
  const claim = async (p: Partition, attempt: AbortSignal): Promise<boolean> => {
    const lock = lockOf(p);
    try {
      await lock.lock(attempt);
    } catch (error) {
      if (stopSignal.aborted) throw stopSignal.reason;
      if (!attempt.aborted) log.warn({ partition: p.ingestor, err: error }, "backfill: cannot take a partition's lock");
      return false;
    }
    // Its last holder may have finished it just before letting go; other attempts may have filled the slots.
    if ((await isDone(p).catch(() => false)) || running.size >= capacity) {
      await lock.unlock().catch(() => {});
      return false;
    }
    start(p, lock);
    return true;
  };

  try {
    while (true) {
      if (failures.length > 0) throw failures[0];
      stopSignal.throwIfAborted();
      slotFreed = signalled();
      let unreadable = 0;
      const candidates = plan.partitions.filter((p) => !done.has(p.index) && !running.has(p.index));
      const states = await mapLimited(candidates, 16, async (p) => {
        try {
          return (await isDone(p)) ? null : p;
        } catch (error) {
          if (stopSignal.aborted) throw stopSignal.reason;
          unreadable++;
          log.warn({ partition: p.ingestor, err: error }, "backfill: cannot read a partition's pointer");
          return null;
        }
      });
      const pending = states.filter((p): p is Partition => p !== null);
      if (pending.length === 0 && running.size === 0 && unreadable === 0) return;

      // Free-looking partitions first, one brief attempt each, in plan order.
      const held: Partition[] = [];
      for (const p of pending) {
        if (running.size >= capacity) break;
        const holder = await lockOf(p)
          .describe?.()
          .catch(() => undefined);
        if (holder !== null && holder !== undefined) {
          held.push(p);
          continue;
        }
        if (!(await claim(p, AbortSignal.any([stopSignal, AbortSignal.timeout(tryMs)])))) held.push(p);
      }

      if (running.size < capacity && held.length > 0) {
        // Nothing free: wait on some held locks, rotating, until one is taken over or a slot frees.
        const watched = rotate(held, watchOffset).slice(0, WATCH_LIMIT);
        watchOffset += watched.length;
        const round = new AbortController();
        const attempt = AbortSignal.any([stopSignal, round.signal, AbortSignal.timeout(watchMs)]);
        const attempts = watched.map((p) =>
          claim(p, attempt).then((taken) => {
            if (taken && running.size >= capacity) round.abort();
          }),
        );
        const settled = Promise.allSettled(attempts);
        await Promise.race([settled, slotFreed.promise, aborted(attempt)]);
        round.abort();
        await settled;
      } else if (running.size > 0) {
        const waiting = new AbortController();
        await Promise.race([slotFreed.promise, aborted(AbortSignal.any([stopSignal, waiting.signal]))]);
        waiting.abort();
      } else {
        // Pointers that could not be read: try again shortly.
        await sleep(1000, stopSignal);
      }
    }
  } catch (error) {
    stop.abort(error);
    throw error;
  } finally {
    stop.abort(new Error("claims ended"));
    await Promise.allSettled([...running.values()]);
  }
}

function rotate<T>(items: readonly T[], offset: number): T[] {
  const start = offset % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/** Resolves when `signal` aborts (never rejects), leaving no listener behind once it has. */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/** A promise with its resolve function (what `Promise.withResolvers` gives on newer targets). */
function signalled(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
