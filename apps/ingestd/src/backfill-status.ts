import { hostname } from "node:os";
import { type LockState, sleep } from "@tidemark/core";
import type { BackfillPlan } from "./backfill-plan.js";
import { BackfillProgress, type PlanProgress } from "./backfill-progress.js";
import type { Store } from "./stores/store.js";

/** One line of `commits status` for a backfill partition, or the plan's total (`partition` "total"). */
export interface PartitionStatus {
  readonly chain: string;
  /** The partition's ingestor name, or "total". */
  readonly partition: string;
  readonly after: string;
  readonly through: string;
  readonly block: string | null;
  readonly percent: number;
  /** Blocks (slots) per second over the sampling window; null without one. */
  readonly blocksPerSecond: number | null;
  /** Seconds to the end at that rate; 0 when done, null when unknown. */
  readonly etaSeconds: number | null;
  /** Partitions only: the lock holder, or null when free or done. */
  readonly holder?: LockState | null;
}

/**
 * Every partition of `plan` with its pointer, share done and an estimated
 * time to finish. A one-shot command has no history of rates, so it reads the
 * pointers twice, `sampleMs` apart (0: once, no rates or estimates), and
 * takes each partition's advance over that window as its rate; the total's
 * rate is their sum, so the estimate assumes the fleet keeps its pace.
 */
export async function backfillStatus(
  store: Store,
  plan: BackfillPlan,
  sampleMs: number,
  signal: AbortSignal,
): Promise<PartitionStatus[]> {
  const progress = new BackfillProgress(plan, store.committer, { windowMs: Number.MAX_SAFE_INTEGER });
  let report = await progress.sample(signal);
  if (sampleMs > 0 && report.done < plan.partitions.length) {
    await sleep(sampleMs, signal);
    report = await progress.sample(signal);
  }
  const owner = `${hostname()}:${process.pid}`;
  const rows: PartitionStatus[] = [];
  for (const p of report.partitions) {
    const holder = p.done ? null : ((await store.createLock(p.partition.lockKey, { owner }).describe?.()) ?? null);
    rows.push({
      chain: plan.chain,
      partition: p.partition.ingestor,
      after: p.partition.after.toString(),
      through: p.partition.through.toString(),
      block: p.block?.toString() ?? null,
      percent: percent(p.fraction),
      blocksPerSecond: round(p.rate),
      etaSeconds: round(p.etaSeconds),
      holder,
    });
  }
  rows.push(total(plan, report));
  return rows;
}

function total(plan: BackfillPlan, report: PlanProgress): PartitionStatus {
  return {
    chain: plan.chain,
    partition: "total",
    after: plan.from.toString(),
    through: plan.until.toString(),
    block: null,
    percent: percent(report.fraction),
    blocksPerSecond: round(report.rate),
    etaSeconds: round(report.etaSeconds),
  };
}

/** Hours, minutes and seconds for people: `2h05m`, `4m10s`, `12s`; "-" when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null) return "-";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

function percent(fraction: number): number {
  return Math.floor(fraction * 1000) / 10;
}

function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}
