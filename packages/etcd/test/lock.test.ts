import { uniqueName } from "@tidemark/conformance";
import { pointerFromNumber, sleep } from "@tidemark/core";
import type { EtcdLock } from "@tidemark/etcd";
import { afterEach, describe, expect, it } from "vitest";
import { adminClient, contenderKeys, newCommitter, newLock } from "./helpers.js";

const admin = adminClient();
const locks: EtcdLock[] = [];
afterEach(async () => {
  for (const lock of locks.splice(0)) await lock.close();
});
const create = (key: string) => {
  const lock = newLock(key);
  locks.push(lock);
  return lock;
};

/** Remaining TTL of a lease in seconds; -1 once etcd no longer knows it. */
const ttlOf = async (leaseId: string) => Number((await admin.leaseClient.leaseTimeToLive({ ID: leaseId })).TTL);

describe("etcd lock", () => {
  it("describes the holder: its key, owner id, token and lease TTL; null once released", async () => {
    const key = uniqueName("describe");
    const lock = create(key);
    expect(await lock.describe()).toBeNull();
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    expect(lease.owner.startsWith(`${lock.owner}:`), `owner id ${lease.owner}`).toBe(true);
    const state = await lock.describe();
    expect(state).toEqual({
      key,
      owner: lease.owner,
      token: lease.token,
      leaseMs: 2000,
      released: false,
    });
    await lock.unlock();
    expect(await lock.describe()).toBeNull();
  });

  it("asks etcd for leaseMs rounded up to whole seconds, and times its own watchdog on leaseMs", async () => {
    const lock = newLock(uniqueName("rounded"), { leaseMs: 2500 });
    locks.push(lock);
    expect(lock.timings).toMatchObject({ leaseMs: 2500, heartbeatMs: 2500 / 3, safetyMarginMs: 2500 / 6 });
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    expect((await lock.describe())?.leaseMs, "the TTL etcd granted").toBe(3000);
    expect(Number((await admin.leaseClient.leaseTimeToLive({ ID: lease.leaseId })).grantedTTL)).toBe(3);
  });

  it("rejects lock() after close(), and closes again without error", async () => {
    const lock = create(uniqueName("closed"));
    await lock.lock(AbortSignal.timeout(10_000));
    await lock.close();
    await lock.close();
    await expect(lock.lock(AbortSignal.timeout(10_000))).rejects.toThrow(/after close/);
  });

  it("keeps names that share a prefix apart, also for range reads", async () => {
    const base = uniqueName("iso");
    const parent = create(base);
    const child = create(`${base}/child`);
    const parentLease = await parent.lock(AbortSignal.timeout(10_000));
    const childLease = await child.lock(AbortSignal.timeout(10_000));
    expect((await parent.describe())?.owner).toBe(parentLease.owner);
    expect((await child.describe())?.owner).toBe(childLease.owner);
    expect(await contenderKeys(admin, parent)).toHaveLength(1);
  });

  it("revokes its lease on unlock, leaving no key behind", async () => {
    const lock = create(uniqueName("revoke"));
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    expect(await ttlOf(lease.leaseId)).toBeGreaterThan(0);
    await lock.unlock();
    expect(await ttlOf(lease.leaseId)).toBe(-1);
    expect(await contenderKeys(admin, lock)).toEqual([]);
  });

  it("removes an aborted waiter's key and lease at once", async () => {
    const name = uniqueName("abort");
    const holder = create(name);
    const waiter = create(name);
    await holder.lock(AbortSignal.timeout(10_000));
    const controller = new AbortController();
    const waiting = waiter.lock(controller.signal);
    waiting.catch(() => {});
    await expect.poll(() => contenderKeys(admin, holder)).toHaveLength(2);
    controller.abort(new Error("gave up"));
    await expect(waiting).rejects.toThrow("gave up");
    await expect.poll(() => contenderKeys(admin, holder), { timeout: 5000 }).toHaveLength(1);
  });

  it("hands out increasing tokens, one acquisition after another", async () => {
    const name = uniqueName("tokens");
    const a = create(name);
    const b = create(name);
    const tokens: bigint[] = [];
    for (let round = 0; round < 3; round++) {
      for (const lock of [a, b]) {
        tokens.push((await lock.lock(AbortSignal.timeout(10_000))).token);
        await lock.unlock();
      }
    }
    expect([...tokens].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(tokens);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it("aborts the lease signal when its key is deleted by hand, then acquires anew", async () => {
    const lock = create(uniqueName("deleted"));
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const deletedAt = performance.now();
    await admin.delete().key(lease.holderKey);
    await expect.poll(() => lease.signal.aborted, { timeout: 5000 }).toBe(true);
    expect(performance.now() - deletedAt).toBeLessThan(2000);
    const next = await lock.lock(AbortSignal.timeout(10_000));
    expect(next).not.toBe(lease);
    expect(next.token).toBeGreaterThan(lease.token);
    // The lost holding's lease is revoked rather than left to expire.
    await expect.poll(() => ttlOf(lease.leaseId), { timeout: 5000 }).toBe(-1);
  });

  it("returns the same lease while held, and keeps it alive past its TTL", async () => {
    const lock = create(uniqueName("keepalive"));
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await sleep(2600);
    expect(lease.signal.aborted).toBe(false);
    expect(await lock.lock(AbortSignal.timeout(10_000))).toBe(lease);
    expect(await ttlOf(lease.leaseId)).toBeGreaterThan(0);
  });

  it("rejects a second lock() while the first is still waiting", async () => {
    const name = uniqueName("twice");
    const holder = create(name);
    const waiter = create(name);
    await holder.lock(AbortSignal.timeout(10_000));
    const controller = new AbortController();
    const first = waiter.lock(controller.signal);
    first.catch(() => {});
    await expect(waiter.lock(AbortSignal.timeout(10_000))).rejects.toThrow(/already waiting/);
    controller.abort(new Error("done"));
    await expect(first).rejects.toThrow("done");
  });

  it("leaves no timers behind and closes its clients", async () => {
    // The admin client stays connected for the whole file: open its connection before counting.
    await admin.get("warm-up").string();
    const count = (type: string) => process.getActiveResourcesInfo().filter((t) => t === type).length;
    const timersBefore = count("Timeout");
    const name = uniqueName("leaks");
    const holder = newLock(name);
    const waiter = newLock(name);
    const committer = newCommitter();
    const lease = await holder.lock(AbortSignal.timeout(10_000));
    await committer.commit(name, null, pointerFromNumber(1), { lease });
    const waiting = waiter.lock(AbortSignal.timeout(10_000));
    await sleep(300);
    await holder.close();
    await waiting;
    await waiter.close();
    await committer.close();
    await expect.poll(() => count("Timeout"), { timeout: 5000 }).toBeLessThanOrEqual(timersBefore);
    // Their clients are closed (gRPC shares connections between clients, so counting sockets would not tell).
    await expect(committer.latest(name)).rejects.toThrow(/closed/i);
    await expect(waiter.describe()).rejects.toThrow(/closed/i);
  });
});
