import { type CommittedRange, type Committer, comparePointers, type Pointer, visibilityOf } from "@tidemark/core";
import type { BackfillPlan, Partition } from "./backfill-plan.js";
import type { VisibleBlocks } from "./stores/store.js";

export interface PlanVisibilityOptions {
  readonly plan: BackfillPlan;
  /** The commit store holding the live ingestor's and every partition's pointer. */
  readonly committer: Committer;
  /** The live ingestor's name (`history_KIN4`). */
  readonly live: string;
  /**
   * Reuse what was read for this long, in ms (default 0: read on every call).
   * A server sets it so a burst of requests reads the pointers once; older
   * pointers only show less, never more.
   */
  readonly refreshMs?: number;
}

/** Pointer reads in flight at once: a plan may have hundreds of unfinished partitions. */
const READ_CONCURRENCY = 16;

/**
 * What readers may see of a history that the live ingestor and a backfill's
 * partitions commit together: a partition's blocks up to its own pointer,
 * every other block up to the live pointer (core's `visibilityOf`). A
 * partition whose pointer reached its end is remembered as done and not read
 * again (a done partition stays done; `commits set` on one needs a restart of
 * long-lived readers).
 */
export function planVisibility({ plan, committer, live, refreshMs = 0 }: PlanVisibilityOptions): VisibleBlocks {
  const done = new Set<number>();
  let cached: { at: number; value: ReturnType<typeof visibilityOf> } | null = null;
  let reading: Promise<ReturnType<typeof visibilityOf>> | null = null;

  const read = async (signal?: AbortSignal) => {
    const options = signal ? { signal } : {};
    // Both awaited together: a failed read of either must reject this call, never go unhandled.
    const [main, ranges] = await Promise.all([
      committer.latest(live, options),
      mapLimited(plan.partitions, READ_CONCURRENCY, async (partition): Promise<CommittedRange> => {
        if (done.has(partition.index)) return committed(partition, partition.range.through);
        const pointer = await committer.latest(partition.ingestor, options);
        if (pointer !== null && comparePointers(pointer, partition.range.through) >= 0) done.add(partition.index);
        return committed(partition, pointer);
      }),
    ]);
    return visibilityOf(main, ranges);
  };

  if (refreshMs <= 0) return read;
  return async () => {
    if (cached !== null && performance.now() - cached.at < refreshMs) return cached.value;
    if (reading === null) {
      const startedAt = performance.now();
      // Shared by every caller meanwhile, so no one caller's signal may cut it short.
      reading = read()
        .then((value) => {
          cached = { at: startedAt, value };
          return value;
        })
        .finally(() => {
          reading = null;
        });
    }
    return reading;
  };
}

function committed(partition: Partition, pointer: Pointer | null): CommittedRange {
  return { after: partition.range.after, through: partition.range.through, committed: pointer };
}

/** `fn` over `items` with at most `limit` calls pending, results in order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
