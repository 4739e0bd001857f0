import { hostname } from "node:os";
import type { Logger } from "@tidemark/core";
import { kinHistoryCodec } from "@tidemark/kin";
import { Registry } from "prom-client";
import type { ConfiguredBackfill } from "./backfill-config.js";
import { registerBackfillMetrics } from "./backfill-metrics.js";
import { runBackfill } from "./backfill-runner.js";
import { chainPointers } from "./chain-runtime.js";
import { type CleanupStep, runCleanups } from "./cleanup-steps.js";
import { InvalidConfigError } from "./config-error.js";
import { startHealthServer } from "./health-server.js";
import { createLogger } from "./logger.js";
import { type RunConfig, requireHistory } from "./run-config.js";
import { openHistoryTarget } from "./stores/history-target.js";
import { openStore } from "./stores/open-store.js";

export interface BackfillCommandOptions {
  /** Store, history, endpoint, lease and logging, as `run` resolves them; its first chain is backfilled. */
  readonly config: RunConfig;
  readonly backfill: ConfiguredBackfill;
  /** Stops the backfill: every partition's lock is released, `backfillService` rejects with the reason. */
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  /** Told the metrics port once it listens. */
  readonly onListening?: (port: number) => void;
}

/**
 * `tidemark backfill`: works on up to `backfill.partitions` partitions of the
 * plan at once, through the same store's locks and committer as `run`, until
 * every partition of the plan is done (by this node or any other). Resolves
 * then; rejects on a fatal error or when `signal` aborts.
 */
export async function backfillService({
  config,
  backfill,
  signal,
  logger: given,
  onListening,
}: BackfillCommandOptions): Promise<void> {
  const logger = given ?? createLogger(config.logLevel);
  const chain = config.chains[0];
  if (chain === undefined || chain.rpc === undefined) {
    throw new InvalidConfigError("--rpc", "backfill needs the Solana RPC endpoint to read the range from");
  }
  const historyUrl = requireHistory(config);
  const cleanups: CleanupStep[] = [];
  try {
    const store = await openStore(config.store, config.leaseMs ? { leaseMs: config.leaseMs } : {});
    cleanups.push(() => store.close());
    const target = await openHistoryTarget(historyUrl, config.store, store);
    cleanups.push(() => target.close());
    // Every partition writes into the live ingestor's history; only commits and locks are the partition's own.
    const history = target.open(chainPointers(chain.chain).ingestorName, kinHistoryCodec);
    cleanups.push(() => history.close());
    if (config.metricsPort !== undefined) {
      const registry = new Registry();
      registerBackfillMetrics(registry, [backfill.plan], store.committer, logger);
      const server = await startHealthServer({ port: config.metricsPort, registry });
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : config.metricsPort;
      logger.info({ port }, "metrics and health endpoints listening");
      onListening?.(port);
    }
    const { plan } = backfill;
    logger.info(
      {
        chain: chain.chain,
        from: plan.from.toString(),
        until: plan.until.toString(),
        partitionSize: plan.partitionSize.toString(),
        partitions: plan.partitions.length,
        claims: backfill.partitions,
        history: target.label,
      },
      "backfill: starting",
    );
    await runBackfill({
      backfill,
      chain,
      endpoint: chain.rpc,
      store,
      history,
      owner: `${hostname()}:${process.pid}`,
      ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}),
      coalesce: config.coalesce,
      logger,
      signal,
      onChange: (partition, state) => {
        if (state === "done") logger.info({ partition: partition.ingestor }, "backfill: partition done");
      },
    });
    logger.info({ chain: chain.chain, partitions: plan.partitions.length }, "backfill: every partition is done");
  } finally {
    await runCleanups(cleanups, logger);
  }
}
