import { Counter, register as defaultRegistry, Gauge, type Registry } from "prom-client";
import { InvalidArgumentError } from "../errors.js";
import type { RunEvent, RunStage } from "../events.js";
import type { Metrics } from "../metrics.js";

export interface PrometheusMetricsOptions {
  /** Where the series are registered (default: prom-client's global registry). */
  readonly registry?: Registry;
  /**
   * Prepended to every series name with an underscore (default `tidemark`).
   * `agora` reproduces the Go service's names for existing dashboards.
   */
  readonly prefix?: string;
  /**
   * Ingestors whose series exist from the start, at 0, before any event: a
   * hot standby then exports `history_leader 0` and zero counters instead of
   * nothing. `history_last_ingestion_time_unix` is left out: 0 would read as a
   * commit in 1970, not as "none yet".
   */
  readonly ingestors?: readonly string[];
}

/** Every stage, so `history_errors` can start at 0 for each (a `Record` makes a new stage a type error here). */
const STAGES: Record<RunStage, true> = {
  lock: true,
  unlock: true,
  fence: true,
  latest: true,
  ingest: true,
  result: true,
  commit: true,
};

/**
 * `run` metrics on prom-client. Keeps the Go original's three series
 * (`history_commits`, `history_restarts`, `history_last_ingestion_time_unix`,
 * labelled by `ingestor`) and adds backend writes, conflicts, lock changes and
 * reconciliations. `history_commits` counts blocks, so its rate means the same
 * as in Go even when one backend write covers many blocks; a commit whose
 * answer was lost is counted once `run` finds it applied (and in
 * `history_late_commits`).
 */
export class PrometheusMetrics implements Metrics {
  readonly commits: Counter<"ingestor">;
  readonly commitWrites: Counter<"ingestor">;
  readonly restarts: Counter<"ingestor">;
  readonly lastIngestionTime: Gauge<"ingestor">;
  readonly conflicts: Counter<"ingestor">;
  readonly acquisitions: Counter<"ingestor">;
  readonly losses: Counter<"ingestor">;
  readonly errors: Counter<"ingestor" | "stage">;
  readonly leader: Gauge<"ingestor">;
  readonly lateCommits: Counter<"ingestor">;
  readonly reconciliations: Counter<"ingestor">;

  constructor(options: PrometheusMetricsOptions = {}) {
    const registry = options.registry ?? defaultRegistry;
    const prefix = options.prefix ?? "tidemark";
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      (reuse(registry, `${prefix}_${name}`) as Counter<L> | undefined) ??
      new Counter<L>({ name: `${prefix}_${name}`, help, labelNames, registers: [registry] });
    const gauge = (name: string, help: string) =>
      (reuse(registry, `${prefix}_${name}`) as Gauge<"ingestor"> | undefined) ??
      new Gauge<"ingestor">({ name: `${prefix}_${name}`, help, labelNames: ["ingestor"], registers: [registry] });

    this.commits = counter("history_commits", "Blocks committed.", ["ingestor"]);
    this.commitWrites = counter("history_commit_writes", "Backend commit writes (one may cover many blocks).", [
      "ingestor",
    ]);
    this.restarts = counter("history_restarts", "Ingestion restarts after a failure.", ["ingestor"]);
    this.lastIngestionTime = gauge("history_last_ingestion_time_unix", "Unix time of the last commit.");
    this.conflicts = counter("history_commit_conflicts", "Commits rejected by compare-and-swap.", ["ingestor"]);
    this.acquisitions = counter("history_lock_acquisitions", "Times this node acquired the lock.", ["ingestor"]);
    this.losses = counter("history_lock_losses", "Times this node lost the lock while holding it.", ["ingestor"]);
    this.errors = counter("history_errors", "Errors by loop stage.", ["ingestor", "stage"]);
    this.leader = gauge("history_leader", "1 while this node holds the lock.");
    this.lateCommits = counter(
      "history_late_commits",
      "Commits whose answer was lost, found applied when the pointer was read back (also in history_commits).",
      ["ingestor"],
    );
    this.reconciliations = counter(
      "history_reconciliations",
      "Times the stored pointer was found beyond what this node knew: other nodes' commits, or its own whose answer was lost.",
      ["ingestor"],
    );
    for (const ingestor of checkIngestors(options.ingestors)) this.#zero(ingestor);
  }

  /** Creates every series of `ingestor` without changing one that already has a value (another run's). */
  #zero(ingestor: string): void {
    const labels = { ingestor };
    for (const series of [
      this.commits,
      this.commitWrites,
      this.restarts,
      this.conflicts,
      this.acquisitions,
      this.losses,
      this.lateCommits,
      this.reconciliations,
      this.leader,
    ]) {
      series.inc(labels, 0);
    }
    for (const stage of Object.keys(STAGES)) this.errors.inc({ ingestor, stage }, 0);
  }

  observe(event: RunEvent): void {
    const ingestor = event.ingestor;
    switch (event.type) {
      case "committed":
        this.commits.inc({ ingestor }, event.span);
        this.commitWrites.inc({ ingestor });
        this.lastIngestionTime.set({ ingestor }, Math.floor(Date.now() / 1000));
        if (event.late === true) this.lateCommits.inc({ ingestor });
        break;
      case "reconciled":
        this.reconciliations.inc({ ingestor });
        break;
      case "restart":
        this.restarts.inc({ ingestor });
        break;
      case "conflict":
        this.conflicts.inc({ ingestor });
        break;
      case "acquired":
        this.acquisitions.inc({ ingestor });
        this.leader.set({ ingestor }, 1);
        break;
      case "lost":
        this.losses.inc({ ingestor });
        this.leader.set({ ingestor }, 0);
        break;
      case "released":
        this.leader.set({ ingestor }, 0);
        break;
      case "error":
        this.errors.inc({ ingestor, stage: event.stage });
        break;
    }
  }
}

function checkIngestors(ingestors: unknown): readonly string[] {
  if (ingestors === undefined) return [];
  if (!Array.isArray(ingestors) || ingestors.some((name) => typeof name !== "string" || name.length === 0)) {
    throw new InvalidArgumentError("PrometheusMetrics: ingestors must be an array of non-empty ingestor names");
  }
  return ingestors;
}

/** Two runs in one process share series rather than failing on re-registration, as the Go code did. */
function reuse(registry: Registry, name: string): unknown {
  return registry.getSingleMetric(name);
}
