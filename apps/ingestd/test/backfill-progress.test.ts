import { join } from "node:path";
import { silentLogger } from "@tidemark/core";
import { solanaPointer } from "@tidemark/kin";
import { Registry } from "prom-client";
import { afterEach, expect, it } from "vitest";
import { registerBackfillMetrics } from "../src/backfill-metrics.js";
import { backfillPlan } from "../src/backfill-plan.js";
import { BackfillProgress } from "../src/backfill-progress.js";
import { formatEta } from "../src/backfill-status.js";
import { openStore } from "../src/stores/open-store.js";
import type { Store } from "../src/stores/store.js";
import { workdir } from "./cli-process.js";

const dir = workdir();
let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

const plan = backfillPlan("kin4", { from: 1000n, until: 1300n, partitionSize: 100n });
const [p0, p1, p2] = plan.partitions;

it("reports each partition's share done, its rate between samples and the time left", async () => {
  store = await openStore(`sqlite:${join(dir, "progress.db")}`, {});
  const committer = store.committer;
  await committer.commit(p0?.ingestor as string, null, solanaPointer(1100n));
  await committer.commit(p1?.ingestor as string, null, solanaPointer(1120n));
  // A clock of its own: the rate must not depend on how busy the machine is.
  let now = 10_000;
  const progress = new BackfillProgress(plan, committer, { windowMs: 60_000, now: () => now });
  const first = await progress.sample();
  expect(first.partitions.map((p) => [p.done, p.fraction, p.etaSeconds])).toEqual([
    [true, 1, 0],
    [false, 0.2, null],
    [false, 0, null],
  ]);
  expect(first.remaining).toBe(180n);
  now += 500;
  await committer.commit(p1?.ingestor as string, solanaPointer(1120n), solanaPointer(1160n));
  const second = await progress.sample();
  const moving = second.partitions[1];
  // 40 slots in half a second: 80 slots/s, so the 40 left take half a second.
  expect(moving?.rate).toBeCloseTo(80);
  expect(moving?.etaSeconds).toBeCloseTo(0.5);
  expect(second.partitions[2]?.rate).toBe(0);
  expect(second.partitions[2]?.etaSeconds).toBeNull();
  // The plan's estimate assumes the fleet keeps its pace: 140 slots left at 80/s.
  expect(second.etaSeconds).toBeCloseTo(1.75);
  expect(formatEta(3725)).toBe("1h02m");
  expect(formatEta(null)).toBe("-");
});

it("exposes every partition's progress and estimate on /metrics", async () => {
  store = await openStore(`sqlite:${join(dir, "metrics.db")}`, {});
  await store.committer.commit(p2?.ingestor as string, null, solanaPointer(1250n));
  const registry = new Registry();
  registerBackfillMetrics(registry, [plan], store.committer, silentLogger);
  const text = await registry.metrics();
  expect(text).toContain('tidemark_backfill_partition_progress_ratio{chain="kin4",partition="1200-1300"} 0.5');
  expect(text).toContain('tidemark_backfill_partition_progress_ratio{chain="kin4",partition="1000-1100"} 0');
  expect(text).toContain('tidemark_backfill_remaining_blocks{chain="kin4"} 250');
  expect(text).toContain('tidemark_backfill_partitions_done{chain="kin4"} 0');
  // One sample has no rate yet: no estimate is exported rather than a made-up one.
  expect(text).not.toMatch(/tidemark_backfill_eta_seconds\{/);
});
