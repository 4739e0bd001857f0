import type { Committer, Logger } from "@tidemark/core";
import { Gauge, type Registry } from "prom-client";
import type { BackfillPlan } from "./backfill-plan.js";
import { BackfillProgress, type PlanProgress } from "./backfill-progress.js";

/** Pointers are read at most this often, however often `/metrics` is scraped. */
const MIN_SAMPLE_INTERVAL_MS = 5000;

/**
 * Backfill progress on `/metrics`, for every partition of every plan (not
 * only those this node works on), from the partitions' commit pointers:
 *
 * - `tidemark_backfill_partition_progress_ratio{chain,partition}` (0 to 1),
 * - `tidemark_backfill_partition_eta_seconds{chain,partition}` (absent while unknown),
 * - `tidemark_backfill_remaining_blocks{chain}`, `tidemark_backfill_eta_seconds{chain}`,
 *   `tidemark_backfill_partitions_done{chain}`.
 *
 * The `partition` label (`<after>-<through>`) is bounded only because a plan
 * is: at most `MAX_PARTITIONS`, some 800 for a year of Solana slots at the
 * default size. Rates are measured over the last minute of scrapes.
 */
export function registerBackfillMetrics(
  registry: Registry,
  plans: readonly BackfillPlan[],
  committer: Committer,
  logger: Logger,
): void {
  if (plans.length === 0) return;
  const trackers = plans.map((plan) => new BackfillProgress(plan, committer));
  let last: { at: number; reports: PlanProgress[] } | null = null;
  let pending: Promise<PlanProgress[]> | null = null;
  const reports = async (): Promise<PlanProgress[]> => {
    if (last !== null && performance.now() - last.at < MIN_SAMPLE_INTERVAL_MS) return last.reports;
    pending ??= Promise.all(trackers.map((t) => t.sample()))
      .then((sampled) => {
        last = { at: performance.now(), reports: sampled };
        return sampled;
      })
      .catch((error: unknown) => {
        // A store that does not answer must not fail the scrape: the last figures stay.
        logger.warn({ err: error }, "backfill metrics: cannot read partition pointers");
        return trackers.map((t) => t.report());
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, r: PlanProgress) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const all = await reports();
        this.reset();
        for (const report of all) fill(this, report);
      },
    });
  const labels = (r: PlanProgress, p: PlanProgress["partitions"][number]) => ({
    chain: r.chain,
    partition: `${p.partition.after}-${p.partition.through}`,
  });
  gauge(
    "tidemark_backfill_partition_progress_ratio",
    "Share of a backfill partition's blocks committed (0 to 1).",
    ["chain", "partition"],
    (g, r) => {
      for (const p of r.partitions) g.set(labels(r, p), p.fraction);
    },
  );
  gauge(
    "tidemark_backfill_partition_eta_seconds",
    "Estimated seconds until a backfill partition is done, at its rate over the last minute; absent while unknown.",
    ["chain", "partition"],
    (g, r) => {
      for (const p of r.partitions) if (p.etaSeconds !== null) g.set(labels(r, p), p.etaSeconds);
    },
  );
  gauge("tidemark_backfill_remaining_blocks", "Blocks of a backfill plan not committed yet.", ["chain"], (g, r) =>
    g.set({ chain: r.chain }, Number(r.remaining)),
  );
  gauge(
    "tidemark_backfill_eta_seconds",
    "Estimated seconds until a whole backfill plan is done, at the fleet's rate over the last minute; absent while unknown.",
    ["chain"],
    (g, r) => {
      if (r.etaSeconds !== null) g.set({ chain: r.chain }, r.etaSeconds);
    },
  );
  gauge(
    "tidemark_backfill_partitions_done",
    "Partitions of a backfill plan whose pointer reached their end.",
    ["chain"],
    (g, r) => g.set({ chain: r.chain }, r.done),
  );
}
