import type { Committer, HistoryStore, Logger, RunEvent } from "@tidemark/core";
import { run } from "@tidemark/core";
import type { Entry } from "@tidemark/kin";
import type { ConfiguredBackfill } from "./backfill-config.js";
import type { Partition } from "./backfill-plan.js";
import { type ChainRequestHooks, chainPointers, createChainIngestor } from "./chain-runtime.js";
import { claimPartitions } from "./partition-claims.js";
import type { ChainConfig } from "./run-config.js";
import { startingAfter } from "./starting-point.js";
import type { Store } from "./stores/store.js";

export interface BackfillRunnerOptions {
  readonly backfill: ConfiguredBackfill;
  readonly chain: ChainConfig;
  /** The chain's endpoint (Solana RPC). */
  readonly endpoint: string;
  readonly store: Store;
  /** The history every partition writes into: the live ingestor's (`history_KIN4`), shared. */
  readonly history: HistoryStore<Entry>;
  /** This node's name in lock records. */
  readonly owner: string;
  readonly leaseMs?: number;
  readonly coalesce: boolean;
  readonly logger: Logger;
  readonly hooks?: ChainRequestHooks;
  readonly signal: AbortSignal;
  /** Told every event of every partition's run. */
  readonly onEvent?: (partition: Partition, event: RunEvent) => void;
  readonly onChange?: (partition: Partition, state: "working" | "idle" | "done") => void;
}

/** Why a partition's run was stopped: its holding ended, and the partition goes back to the claims. */
class Yielded extends Error {}

/**
 * Works on the partitions of a backfill plan until every one is done: each
 * is core's `run` with its own ingestor name, lock and `until`, writing into
 * the shared history. A run whose holding ends (the lock lost, a conflict)
 * gives its slot back instead of waiting for the lock, so a node never idles
 * behind a partition another node has taken over.
 */
export function runBackfill(options: BackfillRunnerOptions): Promise<void> {
  const { backfill, chain, endpoint, store, history, logger } = options;
  const pointers = chainPointers(chain.chain);
  const committer: Committer = store.committer;
  return claimPartitions({
    plan: backfill.plan,
    capacity: backfill.partitions,
    committer,
    signal: options.signal,
    logger,
    // A crashed holder is seen once its lease ran out unchanged: watch a little longer than a lease.
    watchMs: 2 * (options.leaseMs ?? 15_000) + 1000,
    createLock: (partition) =>
      store.createLock(partition.lockKey, {
        owner: options.owner,
        ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
      }),
    ...(options.onChange ? { onChange: options.onChange } : {}),
    work: async (partition, lock, signal) => {
      const ingestor = createChainIngestor(chain, endpoint, logger, options.hooks ?? {}, {
        name: partition.ingestor,
        lastBlock: partition.through,
      });
      const yielded = new AbortController();
      try {
        await run({
          signal: AbortSignal.any([signal, yielded.signal]),
          lock,
          committer,
          writer: history,
          ingestor: startingAfter(ingestor, pointers.toPointer(partition.after)),
          until: pointers.toPointer(partition.through),
          coalesce: options.coalesce,
          logger,
          onEvent: (event) => {
            logPartitionEvent(logger, chain.chain, partition, event, pointers.toBlock);
            options.onEvent?.(partition, event);
            // After its final commit the run returns anyway; any other release hands the slot back.
            if (event.type === "released") yielded.abort(new Yielded("holding ended"));
          },
        });
      } catch (error) {
        if (yielded.signal.aborted && !signal.aborted) return;
        throw error;
      } finally {
        await ingestor.close?.();
      }
    },
  });
}

function logPartitionEvent(
  logger: Logger,
  chain: string,
  partition: Partition,
  event: RunEvent,
  toBlock: (p: Uint8Array) => bigint,
): void {
  const base = { chain, partition: partition.ingestor, event: event.type };
  if (event.type === "committed") {
    logger.debug(
      {
        ...base,
        parent: event.parent === null ? null : toBlock(event.parent).toString(),
        block: toBlock(event.block).toString(),
        span: event.span,
      },
      "backfill: committed",
    );
  } else if (event.type === "acquired" || event.type === "lost" || event.type === "released") {
    logger.info({ ...base, at: Date.now() }, `backfill: lock ${event.type}`);
  }
}
