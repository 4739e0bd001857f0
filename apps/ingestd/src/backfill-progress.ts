import { type Committer, comparePointers, type Pointer } from "@tidemark/core";
import type { BackfillPlan, Partition } from "./backfill-plan.js";
import { mapLimited } from "./backfill-visibility.js";
import type { ChainName } from "./chain-names.js";
import { chainPointers } from "./chain-runtime.js";

/** One partition's progress, in blocks (slots or ledgers, skipped ones included). */
export interface PartitionProgress {
  readonly partition: Partition;
  /** The committed block, or null when nothing is committed yet. */
  readonly block: bigint | null;
  readonly done: boolean;
  /** Share of the partition's blocks committed, 0 to 1. */
  readonly fraction: number;
  /** Blocks per second over the sampling window, or null before two samples. */
  readonly rate: number | null;
  /** Seconds to its end at that rate: 0 when done, null when unknown (no rate, or no progress in the window). */
  readonly etaSeconds: number | null;
}

export interface PlanProgress {
  readonly chain: ChainName;
  readonly partitions: readonly PartitionProgress[];
  readonly done: number;
  /** Blocks of the plan not committed yet. */
  readonly remaining: bigint;
  readonly fraction: number;
  /** Blocks per second of every partition together, or null before two samples. */
  readonly rate: number | null;
  /** Seconds until the whole plan is done at that rate (0 when done, null when unknown). */
  readonly etaSeconds: number | null;
}

interface Sample {
  readonly at: number;
  readonly position: bigint;
}

/**
 * A plan's progress from its partitions' commit pointers. Rates come from
 * samples of those pointers over a sliding window (`windowMs`, default one
 * minute): a one-shot command samples twice a few seconds apart, a service
 * each time its metrics are scraped. Done partitions are read only once.
 */
export class BackfillProgress {
  readonly plan: BackfillPlan;
  readonly #committer: Committer;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #toBlock: (pointer: Pointer) => bigint;
  readonly #samples = new Map<number, Sample[]>();
  readonly #done = new Set<number>();
  readonly #blocks = new Map<number, bigint | null>();

  /** `now`: the clock samples are timed by, in ms (default `performance.now`; tests give their own). */
  constructor(plan: BackfillPlan, committer: Committer, options: { windowMs?: number; now?: () => number } = {}) {
    this.plan = plan;
    this.#committer = committer;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#toBlock = chainPointers(plan.chain).toBlock;
  }

  /** Reads every unfinished partition's pointer and records it as a sample. */
  async sample(signal?: AbortSignal): Promise<PlanProgress> {
    const at = this.#now();
    const unfinished = this.plan.partitions.filter((p) => !this.#done.has(p.index));
    await mapLimited(unfinished, 16, async (p) => {
      const pointer = await this.#committer.latest(p.ingestor, signal ? { signal } : {});
      const block = pointer === null ? null : this.#toBlock(pointer);
      this.#blocks.set(p.index, block);
      if (pointer !== null && comparePointers(pointer, p.range.through) >= 0) this.#done.add(p.index);
      const samples = this.#samples.get(p.index) ?? [];
      samples.push({ at, position: position(p, block) });
      while (samples.length > 2 && at - (samples[1] as Sample).at >= this.#windowMs) samples.shift();
      this.#samples.set(p.index, samples);
    });
    return this.report();
  }

  /** Progress as of the last sample. */
  report(): PlanProgress {
    const partitions = this.plan.partitions.map((p) => this.#partition(p));
    const total = this.plan.until - this.plan.from;
    let remaining = 0n;
    let rate: number | null = null;
    for (const p of partitions) {
      remaining += p.partition.through - position(p.partition, p.block);
      // A done partition adds nothing any more.
      if (p.rate !== null && !p.done) rate = (rate ?? 0) + p.rate;
    }
    const done = partitions.filter((p) => p.done).length;
    return {
      chain: this.plan.chain,
      partitions,
      done,
      remaining,
      fraction: Number(total - remaining) / Number(total),
      rate,
      etaSeconds: remaining === 0n ? 0 : rate !== null && rate > 0 ? Number(remaining) / rate : null,
    };
  }

  #partition(p: Partition): PartitionProgress {
    const block = this.#blocks.get(p.index) ?? null;
    const done = this.#done.has(p.index);
    const size = p.through - p.after;
    const reached = position(p, block);
    const samples = this.#samples.get(p.index) ?? [];
    const first = samples[0];
    const last = samples.at(-1);
    const rate =
      first !== undefined && last !== undefined && last.at > first.at
        ? (Number(last.position - first.position) * 1000) / (last.at - first.at)
        : null;
    const left = p.through - reached;
    return {
      partition: p,
      block,
      done,
      fraction: Number(reached - p.after) / Number(size),
      rate,
      etaSeconds: done || left <= 0n ? 0 : rate !== null && rate > 0 ? Number(left) / rate : null,
    };
  }
}

/** How far into its range a partition is: its committed block, clamped to the range. */
function position(p: Partition, block: bigint | null): bigint {
  if (block === null || block < p.after) return p.after;
  return block > p.through ? p.through : block;
}
