// Benchmarks @tidemark/etcd (the built dist) against one real etcd, every comparison side by side in this run.
// Starts its own etcd like the tests, or uses ETCD_ENDPOINTS. Prints `metric: value unit` lines.
// Run: pnpm turbo run build --filter=@tidemark/etcd... && pnpm --filter @tidemark/etcd bench
import { randomBytes } from "node:crypto";
import { MemoryHistoryStore, pointerFromNumber, run, SequenceIngestor, sequenceCodec, sleep } from "@tidemark/core";
import { createEtcdClient, EtcdCommitter, EtcdLock } from "@tidemark/etcd";
import { startEtcd } from "@tidemark/test-servers";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const COMMITS_PER_ROUND = Number(process.env.BENCH_COMMITS ?? 300);
const RUN_BLOCKS = Number(process.env.BENCH_BLOCKS ?? 2000);
const CRASHES = Number(process.env.BENCH_CRASHES ?? 3);

const external = process.env.ETCD_ENDPOINTS?.split(",").filter(Boolean);
const server = external ? null : await startEtcd();
const hosts = external ?? [...server.endpoints];
const unique = (prefix) => `bench-${prefix}-${randomBytes(4).toString("hex")}`;
const print = (metric, value, unit) => console.log(`${metric}: ${value} ${unit}`);
const rate = (count, ms) => Math.round((count * 1000) / ms);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Runs the variants in lockstep, one commit each in turn (rotating who goes
 * first), every variant on its own chain: disk and scheduling drift then hit
 * all of them alike. Returns commits per second of each.
 */
async function sideBySide(variants) {
  const entries = Object.entries(variants);
  const chains = await Promise.all(
    entries.map(async ([name, make]) => ({ name, commit: await make(), parent: null, ms: 0 })),
  );
  const commits = ROUNDS * COMMITS_PER_ROUND;
  for (let n = 1; n <= commits; n++) {
    const block = pointerFromNumber(n);
    for (let i = 0; i < chains.length; i++) {
      const chain = chains[(n + i) % chains.length];
      const started = performance.now();
      await chain.commit(chain.parent, block);
      chain.ms += performance.now() - started;
      chain.parent = block;
    }
  }
  return Object.fromEntries(chains.map((chain) => [chain.name, rate(commits, chain.ms)]));
}

const committer = new EtcdCommitter({ connection: { hosts } });
const raw = createEtcdClient({ hosts });
const holder = new EtcdLock({ connection: { hosts }, key: unique("holder"), leaseMs: 10_000 });
try {
  // Warm both connections up.
  await committer.latest(unique("warmup"));
  await raw.get(unique("warmup")).buffer();

  // 1. The committer beside the same compare-and-swap done directly with etcd3.
  const lease = await holder.lock(AbortSignal.timeout(10_000));
  const perSecond = await sideBySide({
    committer: () => {
      const ingestor = unique("committer");
      return (parent, block) => committer.commit(ingestor, parent, block);
    },
    raw: () => {
      const key = unique("raw");
      return async (parent, block) => {
        const txn = parent === null ? raw.if(key, "Create", "==", 0) : raw.if(key, "Value", "==", Buffer.from(parent));
        const result = await txn.then(raw.put(key).value(Buffer.from(block))).commit();
        if (!result.succeeded) throw new Error("raw compare-and-swap failed");
      };
    },
    fenced: () => {
      const ingestor = unique("fenced");
      return (parent, block) => committer.commit(ingestor, parent, block, { lease });
    },
  });
  await holder.unlock();
  print("committer_commits_per_second", perSecond.committer, "commits/s");
  print("raw_etcd3_cas_per_second", perSecond.raw, "commits/s");
  print("committer_vs_raw_ratio", (perSecond.committer / perSecond.raw).toFixed(3), "x");
  print("fenced_commits_per_second", perSecond.fenced, "commits/s");
  print("fenced_vs_unfenced_ratio", (perSecond.fenced / perSecond.committer).toFixed(3), "x");

  // 2. Blocks per second through run, coalescing off and on (alternated, same lock lease).
  const runRates = { off: [], on: [] };
  for (let round = 0; round < 2; round++) {
    for (const coalesce of [false, true]) {
      const name = unique(`run-${coalesce ? "on" : "off"}`);
      const lock = new EtcdLock({ connection: { hosts }, key: name, leaseMs: 10_000 });
      const ingestor = new SequenceIngestor({ name, concurrency: 8 });
      const writer = new MemoryHistoryStore({ codec: sequenceCodec, committed: () => committer.latest(name) });
      const started = performance.now();
      await run({
        signal: AbortSignal.timeout(300_000),
        lock,
        committer,
        writer,
        ingestor,
        until: pointerFromNumber(RUN_BLOCKS),
        coalesce,
      });
      runRates[coalesce ? "on" : "off"].push(rate(RUN_BLOCKS, performance.now() - started));
      await lock.close();
    }
  }
  print("run_blocks_per_second_coalesce_off", median(runRates.off), "blocks/s");
  print("run_blocks_per_second_coalesce_on", median(runRates.on), "blocks/s");

  // 3. From a holder's crash to a waiter's acquisition (a 2 s lease, the smallest etcd 3.4 grants by default).
  const sinceCrash = [];
  const sinceRenewal = [];
  for (let i = 0; i < CRASHES; i++) {
    const name = unique("crash");
    const crashed = new EtcdLock({ connection: { hosts }, key: name, leaseMs: 2000 });
    const waiter = new EtcdLock({ connection: { hosts }, key: name, leaseMs: 2000 });
    await crashed.lock(AbortSignal.timeout(10_000));
    const waiting = waiter.lock(AbortSignal.timeout(30_000));
    await sleep(300 + Math.random() * 700);
    const crashedAt = performance.now();
    crashed.simulateCrash();
    const renewedAt = crashed.lastRenewedAt;
    await waiting;
    const acquiredAt = performance.now();
    sinceCrash.push(acquiredAt - crashedAt);
    sinceRenewal.push(acquiredAt - renewedAt);
    await waiter.close();
    await crashed.close();
  }
  print("crash_to_acquisition_ms_median", Math.round(median(sinceCrash)), "ms");
  print("last_renewal_to_acquisition_ms_median", Math.round(median(sinceRenewal)), "ms");
  print("lease_ms", 2000, "ms");

  // 4. Hand-over after a clean unlock (the waiter watches the holder's key).
  const handovers = [];
  for (let i = 0; i < 5; i++) {
    const name = unique("handover");
    const first = new EtcdLock({ connection: { hosts }, key: name, leaseMs: 10_000 });
    const second = new EtcdLock({ connection: { hosts }, key: name, leaseMs: 10_000 });
    await first.lock(AbortSignal.timeout(10_000));
    const waiting = second.lock(AbortSignal.timeout(10_000));
    await sleep(200);
    const unlockedAt = performance.now();
    await first.unlock();
    await waiting;
    handovers.push(performance.now() - unlockedAt);
    await first.close();
    await second.close();
  }
  print("unlock_to_acquisition_ms_median", median(handovers).toFixed(1), "ms");
} finally {
  await holder.close();
  await committer.close();
  raw.close();
  await server?.close();
}
