import { uniqueName } from "@tidemark/conformance";
import {
  InvalidArgumentError,
  LockLostError,
  MemoryLock,
  MemoryLockServer,
  pointerFromNumber,
  pointerToHex,
} from "@tidemark/core";
import type { EtcdLease } from "@tidemark/etcd";
import { afterEach, describe, expect, it } from "vitest";
import { adminClient, newCommitter, newLock, readRaw, revokeHolder } from "./helpers.js";

const admin = adminClient();
const p = (n: number) => pointerFromNumber(n);
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function setup() {
  const committer = newCommitter();
  const lock = newLock(uniqueName("fence-lock"));
  closers.push(
    () => committer.close(),
    () => lock.close(),
  );
  return { committer, lock, ingestor: uniqueName("fence-ingestor") };
}

const stored = async (key: string) => {
  const raw = await readRaw(admin, key);
  return raw === null ? null : pointerToHex(raw);
};

describe("etcd fencing", () => {
  it("rejects a fenced commit once the lease was revoked behind the holder's back, storing nothing", async () => {
    const { committer, lock, ingestor } = setup();
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await committer.commit(ingestor, null, p(1), { lease });
    // Frozen, the holder cannot notice: only the transaction's compare stands between it and the store.
    lock.simulateCrash();
    await revokeHolder(admin, lock);
    expect(lease.signal.aborted).toBe(false);
    const late = committer.commit(ingestor, p(1), p(2), { lease });
    await expect(late).rejects.toBeInstanceOf(LockLostError);
    await expect(late).rejects.toThrow(lease.holderKey);
    expect(await stored(committer.keyFor(ingestor))).toBe(pointerToHex(p(1)));
  });

  it("rejects a fenced first commit whose holder key was deleted by hand", async () => {
    const { committer, lock, ingestor } = setup();
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    lock.simulateCrash();
    await admin.delete().key(lease.holderKey);
    await expect(committer.commit(ingestor, null, p(1), { lease })).rejects.toBeInstanceOf(LockLostError);
    expect(await stored(committer.keyFor(ingestor))).toBeNull();
  });

  it("rejects an earlier holding's lease after a new acquisition, even with its signal forged alive", async () => {
    const { committer, lock, ingestor } = setup();
    const first = await lock.lock(AbortSignal.timeout(10_000));
    await committer.commit(ingestor, null, p(1), { lease: first });
    await lock.unlock();
    expect(first.signal.aborted).toBe(true);
    await expect(committer.commit(ingestor, p(1), p(2), { lease: first })).rejects.toBeInstanceOf(LockLostError);

    const second = await lock.lock(AbortSignal.timeout(10_000));
    expect(second.token).toBeGreaterThan(first.token);
    const forged: EtcdLease = { ...first, signal: new AbortController().signal };
    await expect(committer.commit(ingestor, p(1), p(2), { lease: forged })).rejects.toBeInstanceOf(LockLostError);
    expect(await stored(committer.keyFor(ingestor))).toBe(pointerToHex(p(1)));
    await committer.commit(ingestor, p(1), p(2), { lease: second });
    expect(await stored(committer.keyFor(ingestor))).toBe(pointerToHex(p(2)));
  });

  it("reports a parent mismatch, not a lost lock, while the lease holds", async () => {
    const { committer, lock, ingestor } = setup();
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await committer.commit(ingestor, null, p(5), { lease });
    await expect(committer.commit(ingestor, p(4), p(6), { lease })).rejects.toThrow(/not the stored pointer/);
    await expect(committer.commit(ingestor, null, p(6), { lease })).rejects.toThrow(/not the stored pointer/);
  });

  it("refuses to fence with a lease from another lock implementation", async () => {
    const { committer, ingestor } = setup();
    const memory = new MemoryLock({ server: new MemoryLockServer(), key: "memory" });
    const lease = await memory.lock(AbortSignal.timeout(1000));
    await expect(committer.commit(ingestor, null, p(1), { lease })).rejects.toBeInstanceOf(InvalidArgumentError);
    await memory.unlock();
    expect(await stored(committer.keyFor(ingestor))).toBeNull();
  });
});
