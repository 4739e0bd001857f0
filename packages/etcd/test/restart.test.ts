import { type Interval, overlaps, uniqueName } from "@tidemark/conformance";
import {
  type DistributedLock,
  type Lease,
  MemoryHistoryStore,
  type Pointer,
  pointerFromNumber,
  pointerToHex,
  type RunEvent,
  run,
  SequenceIngestor,
  sequenceCodec,
  sleep,
} from "@tidemark/core";
import { createEtcdClient, EtcdCommitter, EtcdLock } from "@tidemark/etcd";
import { type EtcdTestServer, startEtcd } from "@tidemark/test-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** This file restarts and pauses etcd, so it runs its own server, also when ETCD_ENDPOINTS is set. */
let etcd: EtcdTestServer;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(() => etcd?.close());

interface CommitRecord {
  readonly runner: string;
  readonly parent: string;
  readonly block: string;
}

/** Records when each holding starts (lock() resolved) and ends (its lease signal aborted). */
class RecordingLock implements DistributedLock {
  readonly #seen = new WeakSet<Lease>();
  constructor(
    readonly inner: EtcdLock,
    readonly holder: string,
    readonly intervals: Interval[],
  ) {}

  async lock(signal: AbortSignal): Promise<Lease> {
    const lease = await this.inner.lock(signal);
    if (!this.#seen.has(lease)) {
      this.#seen.add(lease);
      const start = performance.now();
      const end = () => this.intervals.push({ holder: this.holder, start, end: performance.now() });
      if (lease.signal.aborted) end();
      else lease.signal.addEventListener("abort", end, { once: true });
    }
    return lease;
  }

  unlock(): Promise<void> {
    return this.inner.unlock();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${etcd.endpoints[0]}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`etcd does not report ${name}`);
  return Number(line.slice(name.length + 1));
}

async function leaseCount(): Promise<number> {
  const client = createEtcdClient({ hosts: [...etcd.endpoints] });
  try {
    return (await client.leaseClient.leaseLeases({})).leases.length;
  } finally {
    client.close();
  }
}

describe("etcd restarts", () => {
  it("loses no commit and commits none twice when etcd is killed and restarted during a run of two runners", async () => {
    const name = uniqueName("restart");
    const lastBlock = 600;
    const until = pointerFromNumber(lastBlock);
    const intervals: Interval[] = [];
    const log: CommitRecord[] = [];
    const failedOnce = new Set<bigint>();
    const closers: (() => Promise<void>)[] = [];
    const connection = { hosts: [...etcd.endpoints] };
    const runners = ["a", "b"].map((runner) => {
      // A lease well above the restart time: the holder keeps its lease through the outage (etcd renews
      // leases when it comes back), so no commit is cut off by a lease lost half-way through its retries.
      const lock = new EtcdLock({ connection, key: name, leaseMs: 10_000 });
      const committer = new EtcdCommitter({ connection, retryTimeoutMs: 20_000 });
      closers.push(
        () => lock.close(),
        () => committer.close(),
      );
      // A failing block makes the holder release (maxConsecutiveFailures 1), so the lock changes hands.
      const ingestor = new SequenceIngestor({
        name,
        delayMs: 3,
        concurrency: 4,
        failure: (n) => {
          if (n % 150n !== 0n || failedOnce.has(n)) return undefined;
          failedOnce.add(n);
          return new Error(`injected failure at block ${n}`);
        },
      });
      const writer = new MemoryHistoryStore({ codec: sequenceCodec, committed: () => committer.latest(name) });
      return run({
        signal: AbortSignal.timeout(90_000),
        lock: new RecordingLock(lock, runner, intervals),
        committer,
        writer,
        ingestor,
        until,
        lockRetryMs: 100,
        maxConsecutiveFailures: 1,
        onEvent: (event: RunEvent) => {
          if (event.type === "committed") {
            log.push({ runner, parent: pointerToHex(event.parent), block: pointerToHex(event.block) });
          }
        },
      });
    });
    try {
      // Kill etcd while commits are in flight, then bring it back on the same data directory.
      await expect.poll(() => log.length, { timeout: 30_000, interval: 5 }).toBeGreaterThanOrEqual(40);
      await etcd.stop({ signal: "SIGKILL" });
      const committedBeforeKill = log.length;
      await etcd.start();
      await Promise.all(runners);
      expect(log.length, "commits after the restart").toBeGreaterThan(committedBeforeKill);
    } finally {
      for (const close of closers.reverse()) await close();
    }

    // The commits of both runners, in order, form one chain from nothing to `until`: none lost, none twice.
    const byParent = new Map<string, CommitRecord>();
    for (const record of log) {
      expect(byParent.get(record.parent), `two commits on parent ${record.parent}`).toBeUndefined();
      byParent.set(record.parent, record);
    }
    let at = "null";
    const chain: CommitRecord[] = [];
    for (let next = byParent.get(at); next !== undefined; next = byParent.get(at)) {
      chain.push(next);
      at = next.block;
    }
    expect(chain.length, "commits on the chain").toBe(log.length);
    expect(at).toBe(pointerToHex(until));
    const client = createEtcdClient({ hosts: [...etcd.endpoints] });
    const stored = await new EtcdCommitter({ client }).latest(name).finally(() => client.close());
    expect(pointerToHex(stored as Pointer)).toBe(at);
    expect(new Set(log.map((record) => record.runner)).size, "runners that committed").toBe(2);

    expect(intervals.length, "holdings").toBeGreaterThanOrEqual(2);
    expect(overlaps(intervals), "overlapping holdings").toEqual([]);
    // Closed clients leave nothing behind in etcd.
    await expect.poll(leaseCount, { timeout: 5000 }).toBe(0);
    await expect.poll(() => metric("etcd_debugging_mvcc_watcher_total"), { timeout: 5000 }).toBe(0);
  });

  it("re-acquires within a heartbeat and a poll of etcd answering again after an outage longer than the lease", async () => {
    // A restarted etcd restores every lease with its whole TTL, the lost holding's too: unless that
    // lease is revoked first, the next holder (this node included) waits out the TTL after etcd returns.
    const name = uniqueName("outage");
    const connection = { hosts: [...etcd.endpoints] };
    const lock = new EtcdLock({ connection, key: name, leaseMs: 3000 });
    const committer = new EtcdCommitter({ connection });
    const events: { event: RunEvent; at: number }[] = [];
    const seen = (type: RunEvent["type"], after = 0) =>
      events.find(({ event, at }) => event.type === type && at > after)?.at ?? null;
    const controller = new AbortController();
    const running = run({
      signal: controller.signal,
      lock,
      committer,
      writer: new MemoryHistoryStore({ codec: sequenceCodec, committed: () => committer.latest(name) }),
      ingestor: new SequenceIngestor({ name, delayMs: 20, concurrency: 1 }),
      // run's own pause between failed lock attempts is not what this measures.
      lockRetryMs: 100,
      onEvent: (event) => events.push({ event, at: performance.now() }),
    });
    try {
      await expect.poll(() => seen("committed"), { timeout: 10_000 }).not.toBeNull();
      await etcd.stop({ signal: "SIGKILL" });
      await expect.poll(() => seen("lost"), { timeout: 10_000 }).not.toBeNull();
      // The release could not revoke the lost holding's lease. Once every revocation sent meanwhile
      // has passed its deadline (5 s), nothing can revoke it any more and etcd keeps it through the restart.
      await expect.poll(() => seen("released"), { timeout: 15_000 }).not.toBeNull();
      const releasedAt = seen("released") as number;
      await sleep(6000);
      await etcd.start();
      // etcd may serve a request before its health check passes: the acquisition may even come first.
      const upAt = performance.now();
      await expect.poll(() => seen("acquired", releasedAt), { timeout: 20_000, interval: 10 }).not.toBeNull();
      const { heartbeatMs, pollMs } = lock.timings;
      expect(
        (seen("acquired", releasedAt) as number) - upAt,
        "ms from etcd answering to the next acquisition",
      ).toBeLessThanOrEqual(heartbeatMs + pollMs + 1000);
      await expect.poll(() => seen("committed", releasedAt), { timeout: 10_000 }).not.toBeNull();
    } finally {
      controller.abort(new Error("done"));
      await running.catch(() => {});
      await lock.close();
      await committer.close();
    }
    await expect.poll(leaseCount, { timeout: 5000 }).toBe(0);
  });

  it("gives the lock up before its lease could expire when etcd stops answering", async () => {
    const leaseMs = 3000;
    const marginMs = leaseMs / 6;
    const lock = new EtcdLock({ connection: { hosts: [...etcd.endpoints] }, key: uniqueName("paused"), leaseMs });
    const pid = etcd.server.pid as number;
    try {
      const lease = await lock.lock(AbortSignal.timeout(10_000));
      const lostAt = new Promise<number>((resolve) =>
        lease.signal.addEventListener("abort", () => resolve(performance.now()), { once: true }),
      );
      process.kill(pid, "SIGSTOP");
      let renewedAt: number;
      let noticedAt: number;
      try {
        noticedAt = await lostAt;
        renewedAt = lock.lastRenewedAt as number;
      } finally {
        process.kill(pid, "SIGCONT");
      }
      // etcd could expire the lease a TTL after the last renewal it saw; the holder stops a margin before.
      expect(noticedAt - renewedAt, "ms from the last renewal to giving up").toBeGreaterThanOrEqual(leaseMs - marginMs);
      expect(noticedAt - renewedAt, "ms from the last renewal to giving up").toBeLessThan(leaseMs);
      expect(await lock.lock(AbortSignal.timeout(20_000))).not.toBe(lease);
    } finally {
      await lock.close();
    }
    await expect.poll(leaseCount, { timeout: 5000 }).toBe(0);
  });
});
