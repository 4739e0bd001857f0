import { hostname } from "node:os";
import { type Logger, type Metrics, pointerToHex, type RunEvent, run } from "@tidemark/core";
import { PrometheusMetrics } from "@tidemark/core/prometheus";
import { kinHistoryCodec } from "@tidemark/kin";
import { Counter, Gauge, Registry } from "prom-client";
import { registerBackfillMetrics } from "./backfill-metrics.js";
import { runBackfill } from "./backfill-runner.js";
import { chainPointers, createChainIngestor } from "./chain-runtime.js";
import { type CleanupStep, runCleanups } from "./cleanup-steps.js";
import { countingWriter } from "./counting-writer.js";
import type { DemoNetwork } from "./demo-network.js";
import { endpointRedactions, failureReason, type Redaction, redactEndpoint } from "./failure-reason.js";
import { pollHead } from "./head-poller.js";
import { startHealthServer } from "./health-server.js";
import { createLogger } from "./logger.js";
import { ChainState } from "./node-state.js";
import { type RunConfig, requireHistory } from "./run-config.js";
import { startingAfter } from "./starting-point.js";
import { describeStreak, StatusLine } from "./status-line.js";
import { openHistoryTarget } from "./stores/history-target.js";
import { openStore } from "./stores/open-store.js";
import { redactUrl } from "./stores/store.js";

export interface RunCommandOptions {
  readonly config: RunConfig;
  /** Stops the service: fetching stops, the lock is released, `runService` resolves. */
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  /** Told the address of the health server once it listens. */
  readonly onListening?: (port: number) => void;
  /** Diagnostics: told each abort signal that lives as long as the service or a chain's run (soak tests count their listeners). */
  readonly onLongLivedSignal?: (name: string, signal: AbortSignal) => void;
}

/**
 * The `tidemark run` service: one `run` per configured chain, sharing a store
 * for commits and locks and a SQLite history store, with metrics, health
 * endpoints and a status line. Resolves when every chain reached `--until`
 * or `signal` aborted (a clean shutdown); rejects on a fatal error.
 */
export async function runService({
  config,
  signal,
  logger: given,
  onListening,
  onLongLivedSignal,
}: RunCommandOptions): Promise<void> {
  const showStatus = config.status === "on" || (config.status === "auto" && process.stderr.isTTY === true);
  const logger = given ?? createLogger(showStatus && config.logLevel === "info" ? "warn" : config.logLevel);
  const cleanups: CleanupStep[] = [];
  try {
    let demo: DemoNetwork | null = null;
    if (config.demo) {
      // Loaded only for --demo: the simulator brings the Solana and Stellar SDKs.
      const { DemoNetwork } = await import("./demo-network.js");
      demo = await DemoNetwork.start({ logger });
      const network = demo;
      cleanups.push(() => network.stop());
      logger.info({ rpc: demo.url }, "demo: simulated Kin4 network started (a block every 400 ms)");
    }
    const historyUrl = requireHistory(config);
    const store = await openStore(config.store, config.leaseMs ? { leaseMs: config.leaseMs } : {});
    cleanups.push(() => store.close());
    const historyTarget = await openHistoryTarget(historyUrl, config.store, store);
    cleanups.push(() => historyTarget.close());
    const registry = new Registry();
    const ingestorNames = config.chains.map((c) => chainPointers(c.chain).ingestorName);
    // Every series starts at 0 for every chain, so a standby exports `history_leader 0` rather than nothing.
    const metrics = new PrometheusMetrics({ registry, prefix: "tidemark", ingestors: ingestorNames });
    const lag = new Gauge({
      name: "tidemark_history_lag_blocks",
      help: "Blocks between the chain head and the committed pointer.",
      labelNames: ["ingestor"],
      registers: [registry],
    });
    const rpcErrors = new Counter({
      name: "tidemark_rpc_errors",
      help: "Chain requests that failed and were retried, by kind (throttled, http, timeout, network, malformed, invalid, rpc).",
      labelNames: ["ingestor", "kind"],
      registers: [registry],
    });
    const states = new Map<string, ChainState>();
    new Gauge({
      name: "tidemark_rpc_consecutive_failures",
      help: "Failures in a row of the chain request that has failed longest in a row; 0 when none is failing.",
      labelNames: ["ingestor"],
      registers: [registry],
      collect() {
        for (const [ingestor, state] of states) {
          this.set({ ingestor }, state.requests.longest((kind) => kind !== "store")?.failures ?? 0);
        }
      },
    });
    const plans = config.chains.flatMap((c) => config.backfill?.[c.chain] ?? []);
    registerBackfillMetrics(
      registry,
      plans.map((b) => b.plan),
      store.committer,
      logger,
    );
    const owner = `${hostname()}:${process.pid}`;
    const controller = new AbortController();
    const stop = AbortSignal.any([signal, controller.signal]);
    onLongLivedSignal?.("stop", stop);

    const chains = config.chains.map((chain) => {
      const pointers = chainPointers(chain.chain);
      const endpoint = chain.chain === "kin4" ? (demo?.url ?? chain.rpc) : chain.horizon;
      if (endpoint === undefined) throw new Error(`no endpoint for ${chain.chain}`);
      const state = new ChainState(chain.chain, pointers.ingestorName);
      states.set(pointers.ingestorName, state);
      const redactions: Redaction[] = [
        ...endpointRedactions(endpoint),
        { secret: config.store, shown: store.label },
        { secret: historyUrl, shown: historyTarget.label },
      ];
      const ingestor = createChainIngestor(chain, endpoint, logger, {
        onRetry: (info) => {
          rpcErrors.inc({ ingestor: pointers.ingestorName, kind: info.kind });
          state.requests.failed(info.operation, info.kind, failureReason(info.error, redactions));
        },
        onRequestSucceeded: ({ operation }) => state.requests.succeeded(operation),
      });
      const history = historyTarget.open(ingestor.name, kinHistoryCodec);
      cleanups.push(() => history.close());
      const lock = store.createLock(chain.lockKey, {
        owner,
        ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}),
      });
      return { chain, pointers, ingestor, state, history, lock, redactions, endpoint };
    });

    if (config.metricsPort !== undefined) {
      const server = await startHealthServer({
        port: config.metricsPort,
        registry,
        chains: chains.map((c) => c.state),
        unreadyAfterFailures: config.unreadyAfterFailures,
      });
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : config.metricsPort;
      logger.info({ port }, "metrics and health endpoints listening");
      onListening?.(port);
    }
    if (!showStatus) {
      // Without a terminal, a progress line every 10 s stands in for the status line.
      const timer = setInterval(() => {
        for (const { chain, state } of chains) {
          const streak = state.requests.longest();
          logger.info(
            {
              chain: chain.chain,
              committed: state.committedNumber?.toString() ?? null,
              head: state.headNumber?.toString() ?? null,
              lag: state.lag?.toString() ?? null,
              blocks: state.blocksCommitted,
              transactions: state.transactionsWritten,
              leader: state.leader,
              failing:
                streak === null
                  ? null
                  : {
                      request: streak.request,
                      failures: streak.failures,
                      kind: streak.kind,
                      reason: streak.reason,
                      summary: describeStreak(streak),
                    },
              lastErrorKind: state.requests.lastKind,
            },
            "progress",
          );
        }
      }, 10_000);
      cleanups.push(() => clearInterval(timer));
    }
    if (showStatus) {
      for (const { chain, ingestor } of chains) {
        const endpoint = chain.rpc ?? chain.horizon;
        const source = config.demo || endpoint === undefined ? "the simulated network" : redactEndpoint(endpoint);
        process.stderr.write(
          `tidemark: ingesting ${chain.chain} (${ingestor.name}) from ${source} into ${historyTarget.label}; Ctrl-C stops\n`,
        );
      }
      const line = new StatusLine(
        process.stderr,
        chains.map((c) => c.state),
      );
      cleanups.push(() => line.stop());
    }

    // Partitions of a configured backfill plan, claimed beside the live ingestors; done partitions stay done.
    const backfills = chains.flatMap(({ chain, history, endpoint }) => {
      const backfill = config.backfill?.[chain.chain];
      if (backfill === undefined) return [];
      return [
        runBackfill({
          backfill,
          chain,
          endpoint,
          store,
          history,
          owner,
          ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}),
          coalesce: config.coalesce,
          logger,
          signal: stop,
        }).then(
          () => logger.info({ chain: chain.chain }, "backfill: every partition is done"),
          (error: unknown) => {
            if (stop.aborted) return;
            controller.abort(error);
            throw error;
          },
        ),
      ];
    });

    const runs = chains.map(async ({ chain, pointers, ingestor, state, history, lock, redactions }) => {
      // Head polling lives as long as this chain's run, which may end on its own at --until.
      const polling = new AbortController();
      const pollSignal = AbortSignal.any([stop, polling.signal]);
      onLongLivedSignal?.(`poll:${chain.chain}`, pollSignal);
      const headPoller = pollHead({
        signal: pollSignal,
        ingestor,
        pointers,
        state,
        setLag: (value) => lag.set({ ingestor: ingestor.name }, value),
        readCommitted: (readSignal) => store.committer.latest(ingestor.name, { signal: readSignal }),
        describeFailure: (error) => failureReason(error, redactions),
      });
      const observer: Metrics = {
        observe(event: RunEvent) {
          metrics.observe(event);
          state.observe(event);
          if (event.type === "committed") state.committedNumber = pointers.toBlock(event.block);
          logEvent(logger, chain.chain, event, pointers.toBlock);
        },
      };
      // With a backfill plan and no --from, the live ingestor starts where the plan ends, not at the chain's start.
      const liveStart = chain.from ?? config.backfill?.[chain.chain]?.plan.until;
      logger.info(
        {
          chain: chain.chain,
          ingestor: ingestor.name,
          lockKey: chain.lockKey,
          store: redactUrl(config.store),
          history: historyTarget.label,
        },
        "starting ingestion",
      );
      try {
        await run({
          signal: stop,
          lock,
          committer: store.committer,
          writer: countingWriter(history, () => state.transactionsWritten++),
          ingestor: liveStart !== undefined ? startingAfter(ingestor, pointers.toPointer(liveStart)) : ingestor,
          coalesce: config.coalesce,
          logger,
          metrics: observer,
          ...(chain.until !== undefined ? { until: pointers.toPointer(chain.until) } : {}),
        });
        state.finished = true;
        logger.info({ chain: chain.chain, until: chain.until?.toString() }, "reached --until; released the lock");
      } catch (error) {
        if (stop.aborted) return;
        controller.abort(error);
        throw error;
      } finally {
        polling.abort();
        await headPoller;
        // The ingestion sessions ended with run; wait until their threads and connections are gone.
        await ingestor.close?.();
      }
    });
    const outcomes = await Promise.allSettled([...runs, ...backfills]);
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failure) throw failure.reason;
  } finally {
    await runCleanups(cleanups, logger);
  }
}

function logEvent(logger: Logger, chain: string, event: RunEvent, toBlock: (p: Uint8Array) => bigint): void {
  const at = Date.now();
  switch (event.type) {
    case "acquired":
      logger.info({ chain, event: "acquired", at, token: event.token?.toString() ?? null }, "lock acquired");
      break;
    case "lost":
      // run() itself logs losses, conflicts, restarts and errors at warn level.
      logger.info({ chain, event: "lost", at }, "lock lost");
      break;
    case "released":
      logger.info({ chain, event: "released", at }, "lock released");
      break;
    case "committed":
      logger.debug(
        {
          chain,
          event: "committed",
          parent: event.parent === null ? null : toBlock(event.parent).toString(),
          block: toBlock(event.block).toString(),
          span: event.span,
          pointer: pointerToHex(event.block),
          ...(event.late ? { late: true } : {}),
        },
        "committed",
      );
      break;
    case "reconciled": {
      // Block numbers for operators; run() logs the same move with hex pointers.
      const block = (p: Uint8Array | null) => (p === null ? null : toBlock(p).toString());
      logger.info(
        {
          chain,
          event: "reconciled",
          at,
          known: block(event.known),
          stored: block(event.stored),
          unsettled: event.unsettled === null ? null : block(event.unsettled.block),
        },
        "stored pointer moved beyond what this node last knew",
      );
      break;
    }
  }
}
