import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import {
  BackendUnavailableError,
  DeadlineError,
  InvalidArgumentError,
  type LeaseClaim,
  LeaseLock,
  type LeaseRecord,
  type LeaseRecordStore,
  LockLostError,
  resolveLeaseTimings,
  sleep,
  withDeadline,
} from "../src/index.js";

/**
 * One record in memory with switches for the faults a network backend has: a
 * write applied whose answer is lost, a backend that cannot be reached, a
 * write that takes a while.
 */
class ScriptedStore implements LeaseRecordStore {
  readonly label = 'scripted lock "k"';
  record: LeaseRecord | null = null;
  token = 0n;
  reachable = true;
  /** The next write of this kind is applied, then its caller hears an error. */
  loseAnswer: { claim?: boolean; renew?: boolean } = {};
  claimDelayMs = 0;
  releases = 0;
  closed = 0;

  async read(): Promise<LeaseRecord | null> {
    this.#reach();
    return this.record;
  }

  async claim(previous: LeaseRecord | null, claim: LeaseClaim): Promise<{ token: bigint } | false> {
    this.#reach();
    if (this.claimDelayMs > 0) await sleep(this.claimDelayMs);
    if (this.record?.version !== previous?.version) return false;
    this.token++;
    this.record = { ...claim, token: this.token, released: false };
    if (this.loseAnswer.claim) {
      this.loseAnswer.claim = false;
      throw new BackendUnavailableError("connection reset after the claim was applied");
    }
    return { token: this.token };
  }

  async renew(owner: string, version: string, next: string): Promise<boolean> {
    this.#reach();
    const stored = this.record;
    if (stored === null || stored.owner !== owner || stored.version !== version || stored.released) return false;
    this.record = { ...stored, version: next };
    if (this.loseAnswer.renew) {
      this.loseAnswer.renew = false;
      throw new BackendUnavailableError("connection reset after the renewal was applied");
    }
    return true;
  }

  async release(owner: string): Promise<void> {
    this.#reach();
    this.releases++;
    if (this.record?.owner === owner) this.record = { ...this.record, released: true };
  }

  async close(): Promise<void> {
    this.closed++;
  }

  #reach(): void {
    if (!this.reachable) throw new BackendUnavailableError("unreachable");
  }
}

const timings = { leaseMs: 600, heartbeatMs: 100, safetyMarginMs: 100, pollMs: 20, requestTimeoutMs: 50 };
const locks: LeaseLock[] = [];
function lockOn(store: ScriptedStore, extra: object = {}): LeaseLock {
  const lock = new LeaseLock(store, { key: "k", owner: "node", ...timings, ...extra });
  locks.push(lock);
  return lock;
}
afterEach(async () => {
  for (const lock of locks.splice(0)) await lock.close().catch(() => {});
});

describe("lease timings", () => {
  it("applies one set of defaults: heartbeat a third of the lease, margin a sixth", () => {
    expect(resolveLeaseTimings("x", { leaseMs: 6000 })).toEqual({
      leaseMs: 6000,
      heartbeatMs: 2000,
      safetyMarginMs: 1000,
      pollMs: 1000,
      requestTimeoutMs: 1000,
    });
  });

  it("names the lock and the option in a setting that cannot work", () => {
    expect(() => resolveLeaseTimings('sqlite lock "k"', { leaseMs: 1000, heartbeatMs: 900 })).toThrow(
      /sqlite lock "k": heartbeatMs \(900\) \+ safetyMarginMs/,
    );
    expect(() => resolveLeaseTimings("x", { leaseMs: true as unknown as number })).toThrow(InvalidArgumentError);
    expect(() => resolveLeaseTimings("x", { pollMs: 0 })).toThrow(/pollMs must be a positive number/);
  });
});

describe("LeaseLock", () => {
  it("confirms a renewal whose answer was lost by reading the record back, keeping the lease", async () => {
    const store = new ScriptedStore();
    const lock = lockOn(store);
    const lease = await lock.lock(AbortSignal.timeout(1000));
    store.loseAnswer.renew = true;
    await sleep(1500);
    expect(lease.signal.aborted, String(lease.signal.reason)).toBe(false);
    expect(store.loseAnswer.renew, "the lost answer happened").toBe(false);
  });

  it("holds a lock whose acquiring answer was lost, once the record shows it", async () => {
    const store = new ScriptedStore();
    store.loseAnswer.claim = true;
    const lease = await lockOn(store).lock(AbortSignal.timeout(1000));
    expect(lease.token).toBe(1n);
    expect(store.record?.owner).toBe(lease.owner);
  });

  it("aborts the lease before leaseMs when the backend cannot be reached, and never before leaseMs - margin", async () => {
    // A margin of a whole second: the upper bound must hold while other projects' servers start beside this one.
    const wide = { leaseMs: 3000, heartbeatMs: 500, safetyMarginMs: 1000 };
    const store = new ScriptedStore();
    const lock = lockOn(store, wide);
    const lease = await lock.lock(AbortSignal.timeout(1000));
    await sleep(600);
    const renewedAt = lock.lastRenewedAt as number;
    store.reachable = false;
    await new Promise((resolve) => lease.signal.addEventListener("abort", resolve, { once: true }));
    const elapsed = performance.now() - renewedAt;
    expect(elapsed).toBeGreaterThanOrEqual(wide.leaseMs - wide.safetyMarginMs - 5);
    expect(elapsed).toBeLessThan(wide.leaseMs);
    expect(lease.signal.reason).toBeInstanceOf(LockLostError);
  });

  it("loses at once when the record names another owner", async () => {
    const store = new ScriptedStore();
    const lease = await lockOn(store).lock(AbortSignal.timeout(1000));
    store.record = { ...(store.record as LeaseRecord), owner: "thief", version: "v" };
    await sleep(3 * timings.heartbeatMs);
    expect(String(lease.signal.reason)).toContain('"thief" took it over');
  });

  it("hands the lock back when the caller aborts while the acquiring write is in flight", async () => {
    const store = new ScriptedStore();
    store.claimDelayMs = 50;
    const controller = new AbortController();
    const attempt = lockOn(store).lock(controller.signal);
    setTimeout(() => controller.abort(new Error("gave up")), 20);
    await expect(attempt).rejects.toThrow("gave up");
    expect(store.record?.released, "the record written meanwhile is released").toBe(true);
  });

  it("does not let a stale holder's unlock release its successor", async () => {
    const store = new ScriptedStore();
    const stale = lockOn(store);
    await stale.lock(AbortSignal.timeout(1000));
    stale.simulateCrash();
    const next = await lockOn(store).lock(AbortSignal.timeout(5000));
    await stale.unlock();
    expect(store.record?.owner).toBe(next.owner);
    expect(store.record?.released).toBe(false);
  });

  it("closes idempotently: releases once, closes the store once, and refuses lock() afterwards", async () => {
    const store = new ScriptedStore();
    const lock = lockOn(store);
    await lock.lock(AbortSignal.timeout(1000));
    await lock.close();
    await lock.close();
    expect(store.record?.released).toBe(true);
    expect(store.releases).toBe(1);
    expect(store.closed).toBe(1);
    await expect(lock.lock(AbortSignal.timeout(1000))).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("leaves no listener on the caller's signal after waiting for a held lock", async () => {
    const store = new ScriptedStore();
    await lockOn(store).lock(AbortSignal.timeout(1000));
    const waiting = new AbortController();
    const attempt = lockOn(store).lock(waiting.signal);
    await sleep(200);
    expect(getEventListeners(waiting.signal, "abort").length).toBeLessThanOrEqual(1);
    waiting.abort(new Error("stop"));
    await expect(attempt).rejects.toThrow("stop");
  });
});

describe("withDeadline", () => {
  it("rejects at the deadline even when the operation ignores its signal, leaving nothing on the parent", async () => {
    const parent = new AbortController();
    const started = performance.now();
    const never = withDeadline("a stuck request", 50, parent.signal, () => new Promise<never>(() => {}));
    await expect(never).rejects.toBeInstanceOf(DeadlineError);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(getEventListeners(parent.signal, "abort")).toHaveLength(0);
  });
});

describe("LeaseLock after a failed release", () => {
  it("takes its own abandoned record back at once instead of waiting out a lease", async () => {
    const store = new ScriptedStore();
    const lock = lockOn(store, { leaseMs: 3000, heartbeatMs: 500, safetyMarginMs: 500 });
    await lock.lock(AbortSignal.timeout(1000));
    store.reachable = false;
    await expect(lock.unlock()).rejects.toBeInstanceOf(BackendUnavailableError);
    store.reachable = true;
    const started = performance.now();
    await lock.lock(AbortSignal.timeout(5000));
    expect(performance.now() - started, "ms to take the abandoned record back").toBeLessThan(1000);
  });
});
