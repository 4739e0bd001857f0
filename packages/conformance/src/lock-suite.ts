import {
  type Committer,
  type DistributedLock,
  InvalidCommitError,
  isTidemarkError,
  type Lease,
  LockLostError,
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
    lockSafety(options);
  });
}

function setup(options: LockSuiteOptions) {
  const locks = new Resources<DistributedLock>(async (lock) => {
    await lock.close();
    await options.destroy?.(lock);
  });
  const committers = new Resources<Committer>(async (committer) => {
    await committer.close();
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
    const waitMs = () => 2 * options.pollMs + 500;

    it("gives exclusive access to one holder per key", async () => {
      const key = uniqueName("exclusive");
      const a = await create(key);
      const b = await create(key);
      await a.lock(AbortSignal.timeout(30_000));
      expect(await tryLock(b, waitMs()), "second holder while the first holds").toBeNull();
      await a.unlock();
      expect(await tryLock(b, options.pollMs + SLACK_MS * 5), "second holder after release").not.toBeNull();
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
      expect(await tryLock(other, options.pollMs + SLACK_MS * 5)).not.toBeNull();
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
      await sleep(options.pollMs + 200);
      const abortedAt = performance.now();
      controller.abort(reason);
      const outcome = await waiting;
      expect(outcome, "outcome of the aborted wait").toBe(reason);
      expect(settledAt - abortedAt, "ms from abort to rejection").toBeLessThanOrEqual(1000);
      await holder.unlock();
      await sleep(2 * options.pollMs + 300);
      const third = await create(key);
      expect(await tryLock(third, options.pollMs + SLACK_MS * 5), "a newcomer after the abort").not.toBeNull();
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
      await sleep(options.pollMs + 300);
      expect(acquiredAt, "waiter acquired while the holder held").toBe(0);
      const unlockedAt = performance.now();
      await holder.unlock();
      await waiting;
      expect(acquiredAt - unlockedAt, "ms from unlock to the waiter's acquisition").toBeLessThanOrEqual(
        options.pollMs + SLACK_MS,
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
      await sleep(options.heartbeatMs + 100);
      const crashedAt = performance.now();
      await options.crash(holder);
      const lastRenewal = options.lastRenewedAt?.(holder) ?? crashedAt - options.heartbeatMs;
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
      const deadline = 2 * options.heartbeatMs + SLACK_MS;
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
      await expectLockLost(late, "the old holder's late fenced commit");
      const stored: Pointer | null = options.readRaw
        ? await options.readRaw(ingestor)
        : await otherCommitter.latest(ingestor);
      expect(stored === null ? null : pointerToHex(stored)).toBe(pointerToHex(pointerFromNumber(1)));
      await otherCommitter.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2), { lease: newLease });
    });
  });
}

/** Rejects with `LockLostError` (by name too, in case two copies of core are installed). */
async function expectLockLost(attempt: Promise<unknown>, what: string): Promise<void> {
  const error = await attempt.then(
    () => new Error(`${what} was accepted`),
    (rejection: unknown) => rejection,
  );
  expect(isTidemarkError(error, LockLostError), `${what}: ${String(error)}`).toBe(true);
}

/** Holds `key` for a new lock, frozen like a paused process, and lets a contender take it over. */
async function takeOver(
  options: LockSuiteOptions,
  create: (key: string) => Promise<DistributedLock>,
  key: string,
): Promise<{ oldLease: Lease; newLease: Lease; old: DistributedLock; contender: DistributedLock }> {
  const old = await create(key);
  const oldLease = await old.lock(AbortSignal.timeout(30_000));
  await options.crash(old);
  const contender = await create(key);
  const newLease = await contender.lock(AbortSignal.timeout(2 * options.leaseMs + 30_000));
  return { oldLease, newLease, old, contender };
}

/** What a pass must mean: the cases where a lock or a fence that looks right is not. */
export function lockSafety(options: LockSuiteOptions): void {
  describe("safety", () => {
    const { create, createCommitter } = setup(options);
    const waitMs = () => 2 * options.pollMs + 500;

    it("aborts the lease of a holder cut off from the backend before a contender can acquire", async () => {
      const key = uniqueName("cut-off");
      const holder = await create(key);
      const lease = await holder.lock(AbortSignal.timeout(30_000));
      const lostAt = new Promise<number>((resolve) =>
        lease.signal.addEventListener("abort", () => resolve(performance.now()), { once: true }),
      );
      const heal = await options.cutOff(holder);
      const cutAt = performance.now();
      const contender = await create(key);
      let acquiredAt = Number.POSITIVE_INFINITY;
      const contending = contender.lock(AbortSignal.timeout(3 * options.leaseMs + 30_000)).then(() => {
        acquiredAt = performance.now();
      });
      const abortedAt = await Promise.race([lostAt, sleep(options.leaseMs + SLACK_MS * 5).then(() => null)]);
      expect(abortedAt, "the cut-off holder's lease aborted").not.toBeNull();
      expect((abortedAt as number) - cutAt, "ms from the cut to the abort").toBeLessThanOrEqual(
        options.leaseMs + SLACK_MS,
      );
      await heal();
      await contending;
      expect(acquiredAt, "the contender acquired only after the holder's lease aborted").toBeGreaterThan(
        abortedAt as number,
      );
    });

    it("does not let a stale holder's unlock() release the holder that took over", async () => {
      const key = uniqueName("stale-unlock");
      const { old, newLease } = await takeOver(options, create, key);
      await old.unlock();
      const third = await create(key);
      expect(await tryLock(third, waitMs()), "a third contender after the stale unlock").toBeNull();
      expect(newLease.signal.aborted, "the new holder's lease").toBe(false);
      await sleep(2 * options.heartbeatMs);
      expect(newLease.signal.aborted, "the new holder's lease after two heartbeats").toBe(false);
    });

    it("gives a new lease, with a larger token where there are tokens, when locked again after a loss", async () => {
      const key = uniqueName("relock-after-loss");
      const holder = await create(key);
      const first = await holder.lock(AbortSignal.timeout(30_000));
      await options.forceLoss(key);
      const lost = new Promise((resolve) => {
        if (first.signal.aborted) resolve(true);
        first.signal.addEventListener("abort", () => resolve(true), { once: true });
      });
      const deadline = 2 * options.heartbeatMs + SLACK_MS;
      expect(await Promise.race([lost, sleep(deadline).then(() => false)]), "the first lease aborted").toBe(true);
      const second = await holder.lock(AbortSignal.timeout(2 * options.leaseMs + 30_000));
      expect(second, "a new lease object").not.toBe(first);
      expect(second.signal.aborted, "the new lease").toBe(false);
      if (first.token !== null || second.token !== null) {
        expect(second.token !== null && first.token !== null && second.token > first.token, "token grew").toBe(true);
      }
    });

    it("never acquires with a signal that is already aborted", async () => {
      const key = uniqueName("pre-aborted");
      const lock = await create(key);
      const reason = new Error("aborted before the call");
      await expect(lock.lock(AbortSignal.abort(reason))).rejects.toBe(reason);
      expect(await tryLock(await create(key), waitMs()), "a contender right after").not.toBeNull();
    });

    it("never keeps a lock whose lock() was aborted while the acquiring write was in flight", async () => {
      const key = uniqueName("abort-in-flight");
      let rejected = 0;
      // Aborted at once (mid-call), after a few microtask turns (mid-request on an in-process
      // backend), and after a few ms (mid-request on a network backend).
      const moments: { label: string; wait: () => Promise<void> }[] = [
        { label: "at once", wait: async () => {} },
        ...[1, 2, 4, 8, 16].map((turns) => ({
          label: `after ${turns} microtask turns`,
          wait: async () => {
            for (let i = 0; i < turns; i++) await Promise.resolve();
          },
        })),
        ...[0, 1, 3, 8, 21].map((ms) => ({ label: `after ${ms} ms`, wait: () => sleep(ms) })),
      ];
      for (const moment of moments) {
        const lock = await create(key);
        const controller = new AbortController();
        const reason = new Error(`aborted ${moment.label}`);
        const attempt = lock.lock(controller.signal).then(
          () => "acquired" as const,
          (error: unknown) => error,
        );
        await moment.wait();
        controller.abort(reason);
        const outcome = await attempt;
        if (outcome === "acquired") {
          await lock.unlock();
        } else {
          expect(outcome, `outcome when aborted ${moment.label}`).toBe(reason);
          rejected++;
        }
        const probe = await create(key);
        expect(await tryLock(probe, waitMs()), `the lock is free after an abort ${moment.label}`).not.toBeNull();
        await probe.unlock();
      }
      expect(rejected, "aborts that won the race").toBeGreaterThan(0);
    });

    it("closes idempotently and releases what it holds", async () => {
      const key = uniqueName("close");
      const lock = await create(key);
      const lease = await lock.lock(AbortSignal.timeout(30_000));
      await lock.close();
      await lock.close();
      expect(lease.signal.aborted, "the lease after close").toBe(true);
      expect(await tryLock(await create(key), waitMs()), "a contender after close").not.toBeNull();
    });

    it("rejects a commit with an aborted lease with LockLostError and writes nothing", async () => {
      const key = uniqueName("aborted-lease");
      const ingestor = uniqueName("aborted-lease-ingestor");
      const committer = await createCommitter();
      const lock = await create(key);
      const lease = await lock.lock(AbortSignal.timeout(30_000));
      await committer.fence?.(ingestor, lease);
      await committer.commit(ingestor, null, pointerFromNumber(1), { lease });
      await lock.unlock();
      await expectLockLost(
        committer.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2), { lease }),
        "a commit with a released lease",
      );
      expect(hex(await readStored(options, committer, ingestor))).toBe(hex(pointerFromNumber(1)));
    });

    it("moves a fence only up: a stale holder fencing after its successor still cannot commit", async () => {
      const key = uniqueName("fence-up");
      const ingestor = uniqueName("fence-up-ingestor");
      const committer = await createCommitter();
      const { oldLease, newLease } = await takeOver(options, create, key);
      await committer.fence?.(ingestor, newLease);
      await committer.commit(ingestor, null, pointerFromNumber(1), { lease: newLease });
      // The stale holder wakes up and fences, as `run` does after it thinks it acquired.
      await committer.fence?.(ingestor, oldLease).catch(() => {});
      await expectLockLost(
        committer.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2), { lease: oldLease }),
        "the stale holder's commit after its fence",
      );
      await committer.commit(ingestor, pointerFromNumber(1), pointerFromNumber(3), { lease: newLease });
      expect(hex(await readStored(options, committer, ingestor))).toBe(hex(pointerFromNumber(3)));
    });

    it("lets only the new holder win when old and new holders commit at the same moment", async () => {
      const key = uniqueName("same-moment");
      const ingestor = uniqueName("same-moment-ingestor");
      const { oldLease, newLease } = await takeOver(options, create, key);
      const [oldCommitter, newCommitter] = [await createCommitter(), await createCommitter()];
      await newCommitter.fence?.(ingestor, newLease);
      await newCommitter.commit(ingestor, null, pointerFromNumber(10), { lease: newLease });
      for (let round = 0; round < 5; round++) {
        const parent = pointerFromNumber(10 + 2 * round);
        const [stale, current] = await Promise.allSettled([
          oldCommitter.commit(ingestor, parent, pointerFromNumber(11 + 2 * round), { lease: oldLease }),
          newCommitter.commit(ingestor, parent, pointerFromNumber(12 + 2 * round), { lease: newLease }),
        ]);
        expect(current.status, `round ${round}: the new holder's commit`).toBe("fulfilled");
        expect(stale.status, `round ${round}: the old holder's commit`).toBe("rejected");
        const reason = (stale as PromiseRejectedResult).reason;
        expect(
          isTidemarkError(reason, LockLostError) || isTidemarkError(reason, InvalidCommitError),
          `round ${round}: ${String(reason)}`,
        ).toBe(true);
      }
      expect(hex(await readStored(options, newCommitter, ingestor))).toBe(hex(pointerFromNumber(20)));
    });
  });
}

async function readStored(options: LockSuiteOptions, committer: Committer, ingestor: string): Promise<Pointer | null> {
  return options.readRaw ? options.readRaw(ingestor) : committer.latest(ingestor);
}

function hex(pointer: Pointer | null): string {
  return pointer === null ? "null" : pointerToHex(pointer);
}
