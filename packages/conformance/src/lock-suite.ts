import {
  type Committer,
  type DistributedLock,
  type Lease,
  type Pointer,
  pointerFromNumber,
  pointerToHex,
  sleep,
} from "@tidemark/core";
import { afterEach, describe, expect, it } from "vitest";
import { type Interval, overlaps } from "./intervals.js";
import { uniqueName } from "./names.js";
import type { LockSuiteOptions } from "./options.js";
import { Resources } from "./resources.js";

/** Slack for scheduling and network on a loaded machine; never part of a lower bound. */
const SLACK_MS = 1000;
/** Timer granularity allowed below a lower bound. */
const CLOCK_TOLERANCE_MS = 50;

/** Every lock group in one `describe`; tests inside run one after another (never mark them concurrent). */
export function describeLock(name: string, options: LockSuiteOptions): void {
  describe(`${name} lock`, () => {
    lockBasics(options);
    lockWaiting(options);
    lockContention(options);
    lockTakeover(options);
    lockFencing(options);
  });
}

function setup(options: LockSuiteOptions) {
  const locks = new Resources<DistributedLock>(async (lock) => {
    await lock.unlock();
    await options.destroy?.(lock);
  });
  const committers = new Resources<Committer>(async (committer) => {
    await options.destroyCommitter?.(committer);
  });
  afterEach(async () => {
    await locks.closeAll();
    await committers.closeAll();
  });
  return {
    create: async (key: string) => locks.add(await options.create(key)),
    createCommitter: async () => committers.add(await options.createCommitter()),
  };
}

/** Resolves with the lease, or with null once `ms` pass without acquiring (the attempt is then aborted). */
async function tryLock(lock: DistributedLock, ms: number): Promise<Lease | null> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("tryLock timed out")), ms);
  try {
    return await lock.lock(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return null;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The original's exclusivity and independent-keys tests, re-locking and unlocking. */
export function lockBasics(options: LockSuiteOptions): void {
  describe("basics", () => {
    const { create } = setup(options);
    const waitMs = () => 2 * options.pollIntervalMs + 500;

    it("gives exclusive access to one holder per key", async () => {
      const key = uniqueName("exclusive");
      const a = await create(key);
      const b = await create(key);
      await a.lock(AbortSignal.timeout(30_000));
      expect(await tryLock(b, waitMs()), "second holder while the first holds").toBeNull();
      await a.unlock();
      expect(await tryLock(b, options.pollIntervalMs + SLACK_MS * 5), "second holder after release").not.toBeNull();
      expect(await tryLock(a, waitMs()), "first holder while the second holds").toBeNull();
    });

    it("keeps different keys independent", async () => {
      const a = await create(uniqueName("independent-a"));
      const b = await create(uniqueName("independent-b"));
      expect(await tryLock(a, 10_000)).not.toBeNull();
      expect(await tryLock(b, 10_000)).not.toBeNull();
    });

    it("returns the same lease when locked again by its holder", async () => {
      const lock = await create(uniqueName("relock"));
      const first = await lock.lock(AbortSignal.timeout(30_000));
      const second = await lock.lock(AbortSignal.timeout(30_000));
      expect(second).toBe(first);
      expect(first.signal.aborted).toBe(false);
    });

    it("unlocks idempotently, also when nothing is held", async () => {
      const key = uniqueName("unlock");
      const lock = await create(key);
      await lock.unlock();
      await lock.lock(AbortSignal.timeout(30_000));
      await lock.unlock();
      await lock.unlock();
      const other = await create(key);
      expect(await tryLock(other, options.pollIntervalMs + SLACK_MS * 5)).not.toBeNull();
    });

    it("describes its holder while held", async () => {
      const lock = await create(uniqueName("describe"));
      const lease = await lock.lock(AbortSignal.timeout(30_000));
      if (lock.describe) {
        const state = await lock.describe();
        expect(state?.owner, "holder").toBeTruthy();
        expect(state?.token ?? null).toBe(lease.token);
      } else {
        expect(lock.describe).toBeUndefined();
      }
    });
  });
}

/** Abortable waiting and prompt hand-over. */
export function lockWaiting(options: LockSuiteOptions): void {
  describe("waiting", () => {
    const { create } = setup(options);

    it("rejects a waiting lock() within a second of its signal aborting, and never acquires afterwards", async () => {
      const key = uniqueName("abort-wait");
      const holder = await create(key);
      const waiter = await create(key);
      await holder.lock(AbortSignal.timeout(30_000));
      const controller = new AbortController();
      const reason = new Error("caller gave up");
      let settledAt = 0;
      const waiting = waiter.lock(controller.signal).then(
        () => {
          settledAt = performance.now();
          return "acquired" as const;
        },
        (error: unknown) => {
          settledAt = performance.now();
          return error;
        },
      );
      await sleep(options.pollIntervalMs + 200);
      const abortedAt = performance.now();
      controller.abort(reason);
      const outcome = await waiting;
      expect(outcome, "outcome of the aborted wait").toBe(reason);
      expect(settledAt - abortedAt, "ms from abort to rejection").toBeLessThanOrEqual(1000);
      await holder.unlock();
      await sleep(2 * options.pollIntervalMs + 300);
      const third = await create(key);
      expect(await tryLock(third, options.pollIntervalMs + SLACK_MS * 5), "a newcomer after the abort").not.toBeNull();
    });

    it("hands the lock to a waiter within one poll interval of unlock", async () => {
      const key = uniqueName("handover");
      const holder = await create(key);
      const waiter = await create(key);
      await holder.lock(AbortSignal.timeout(30_000));
      let acquiredAt = 0;
      const waiting = waiter.lock(AbortSignal.timeout(60_000)).then((lease) => {
        acquiredAt = performance.now();
        return lease;
      });
      await sleep(options.pollIntervalMs + 300);
      expect(acquiredAt, "waiter acquired while the holder held").toBe(0);
      const unlockedAt = performance.now();
      await holder.unlock();
      await waiting;
      expect(acquiredAt - unlockedAt, "ms from unlock to the waiter's acquisition").toBeLessThanOrEqual(
        options.pollIntervalMs + SLACK_MS,
      );
    });
  });
}

/** Many contenders, one holder at a time. */
export function lockContention(options: LockSuiteOptions): void {
  describe("contention", () => {
    const { create } = setup(options);

    it("never lets 8 contenders overlap, and all of them acquire", async () => {
      const key = uniqueName("contention");
      const intervals: Interval[] = [];
      const contenders = await Promise.all(Array.from({ length: 8 }, () => create(key)));
      await Promise.all(
        contenders.map(async (lock, i) => {
          const lease = await lock.lock(AbortSignal.timeout(120_000));
          const start = performance.now();
          await sleep(50);
          expect(lease.signal.aborted, `contender ${i} lost its lease while holding`).toBe(false);
          intervals.push({ holder: `contender-${i}`, start, end: performance.now() });
          await lock.unlock();
        }),
      );
      expect(intervals).toHaveLength(8);
      expect(overlaps(intervals), "overlapping holdings").toEqual([]);
    });
  });
}

/** Crashed holders and holders whose lock is taken away. */
export function lockTakeover(options: LockSuiteOptions): void {
  describe("takeover", () => {
    const { create } = setup(options);

    it("lets a contender take over a crashed holder's lock, not before the lease ran out", async () => {
      const key = uniqueName("crash");
      const holder = await create(key);
      const contender = await create(key);
      await holder.lock(AbortSignal.timeout(30_000));
      await sleep(options.renewIntervalMs + 100);
      const crashedAt = performance.now();
      await options.crash(holder);
      const lastRenewal = options.lastRenewedAt?.(holder) ?? crashedAt - options.renewIntervalMs;
      await contender.lock(AbortSignal.timeout(2 * options.leaseMs + 30_000));
      const acquiredAt = performance.now();
      expect(acquiredAt - lastRenewal, "ms from the last renewal to takeover").toBeGreaterThanOrEqual(
        options.leaseMs - CLOCK_TOLERANCE_MS,
      );
      expect(acquiredAt - lastRenewal, "ms from the last renewal to takeover").toBeLessThanOrEqual(
        2 * options.leaseMs + SLACK_MS,
      );
    });

    it("aborts the holder's lease signal soon after the lock is taken away", async () => {
      const key = uniqueName("force-loss");
      const holder = await create(key);
      const lease = await holder.lock(AbortSignal.timeout(30_000));
      const lostAt = new Promise<number>((resolve) =>
        lease.signal.addEventListener("abort", () => resolve(performance.now()), { once: true }),
      );
      const takenAt = performance.now();
      await options.forceLoss(key);
      const deadline = 2 * options.renewIntervalMs + SLACK_MS;
      const noticed = await Promise.race([lostAt, sleep(deadline + 2000).then(() => null)]);
      expect(noticed, "the lease signal aborted").not.toBeNull();
      expect((noticed as number) - takenAt, "ms until the holder noticed").toBeLessThanOrEqual(deadline);
    });
  });
}

/** A paused holder cannot commit once someone else acquired. */
export function lockFencing(options: LockSuiteOptions): void {
  describe("fencing", () => {
    const { create, createCommitter } = setup(options);

    it("rejects a frozen holder's fenced commit after a contender acquired, leaving the pointer unchanged", async () => {
      const key = uniqueName("fence-key");
      const ingestor = uniqueName("fence-ingestor");
      const committer = await createCommitter();
      const old = await create(key);
      const oldLease = await old.lock(AbortSignal.timeout(30_000));
      await committer.fence?.(ingestor, oldLease);
      await committer.commit(ingestor, null, pointerFromNumber(1), { lease: oldLease });
      await options.crash(old);

      const contender = await create(key);
      const newLease = await contender.lock(AbortSignal.timeout(2 * options.leaseMs + 30_000));
      const otherCommitter = await createCommitter();
      await otherCommitter.fence?.(ingestor, newLease);

      const late = committer.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2), { lease: oldLease });
      await expect(late, "the old holder's late fenced commit").rejects.toThrow();
      const stored: Pointer | null = options.readRaw
        ? await options.readRaw(ingestor)
        : await otherCommitter.latest(ingestor);
      expect(stored === null ? null : pointerToHex(stored)).toBe(pointerToHex(pointerFromNumber(1)));
      await otherCommitter.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2), { lease: newLease });
    });
  });
}
