import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { HistoryReader, Logger } from "@tidemark/core";
import { type KinVersion, storedKinHistoryCodec } from "@tidemark/kin";
import { createTransactionService, Transaction } from "@tidemark/kin/agora";
import { Registry } from "prom-client";
import { planVisibility } from "./backfill-visibility.js";
import { chainPointers } from "./chain-runtime.js";
import { type CleanupStep, runCleanups } from "./cleanup-steps.js";
import { grpcUnaryHandler } from "./grpc-unary.js";
import { listenH2c, type RequestHandler } from "./h2c-server.js";
import { startHealthServer } from "./health-server.js";
import { createLogger } from "./logger.js";
import type { ServeConfig } from "./serve-config.js";
import { ServeMetrics } from "./serve-metrics.js";
import { historyReadiness, type ServedChain } from "./serve-readiness.js";
import { openHistoryTarget } from "./stores/history-target.js";
import { openStore } from "./stores/open-store.js";
import type { StoreOptions } from "./stores/store.js";
import { answerUnimplemented } from "./unknown-method.js";

export interface ServeCommandOptions {
  readonly config: ServeConfig;
  /** Stops the server: no new connections, requests in flight finish, then `serveService` resolves. */
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  /** Told the ports once the server (and the metrics endpoint, if any) listen. */
  readonly onListening?: (ports: { readonly grpcPort: number; readonly metricsPort?: number }) => void;
  /** How long requests in flight may finish once `signal` aborts, in ms (default 5000). */
  readonly graceMs?: number;
}

/** The methods served; every other one answers UNIMPLEMENTED. */
const servedMethods = ["GetHistory", "GetTransaction"] as const;

// Requests are a few hundred bytes: a client has no reason to send megabytes.
const READ_MAX_BYTES = 64 * 1024;

/** `serve` never creates or migrates anything: adding a store to the project never touches this command. */
const readOnly: StoreOptions = { readOnly: true };

/**
 * The `tidemark serve` service: agora's Transaction v4 `GetHistory` and
 * `GetTransaction` from any history store, over gRPC, gRPC-Web and Connect
 * (JSON or binary) on one cleartext port, with `/metrics`, `/healthz` and
 * `/ready` on the metrics port. Resolves after `signal` aborted and every
 * connection, store and listener is closed.
 */
export async function serveService({
  config,
  signal,
  logger: given,
  onListening,
  graceMs = 5000,
}: ServeCommandOptions): Promise<void> {
  const logger = given ?? createLogger(config.logLevel);
  const cleanups: CleanupStep[] = [];
  try {
    const store = await openStore(config.store, readOnly);
    cleanups.push(() => store.close());
    const target = await openHistoryTarget(config.history, config.store, store, readOnly);
    cleanups.push(() => target.close());
    const readers = new Map<KinVersion, HistoryReader<Uint8Array>>();
    const chains: ServedChain[] = config.chains.map((chain) => {
      const pointers = chainPointers(chain);
      const live = pointers.ingestorName;
      // With a backfill plan, each partition's blocks show up to that partition's own pointer; a second's
      // reuse of the pointers lets a burst of requests read them once.
      const backfill = config.backfill?.[chain];
      const reader = target.open(
        live,
        storedKinHistoryCodec,
        backfill
          ? { visibility: planVisibility({ plan: backfill.plan, committer: store.committer, live, refreshMs: 1000 }) }
          : {},
      );
      cleanups.push(() => reader.close());
      readers.set(pointers.version, reader);
      return { pointers, reader };
    });

    const registry = new Registry();
    const metrics = new ServeMetrics(registry, servedMethods, logger);
    // Entries are read as stored and pages written from their bytes, pre-encoded for the protobuf protocols.
    const service = createTransactionService({
      history: (version) => readers.get(version),
      logger,
      encodedItems: true,
    });
    const connect = connectNodeAdapter({
      routes: (router) => router.service(Transaction, service),
      interceptors: [metrics.interceptor],
      requestGate: metrics.requestGate,
      readMaxBytes: READ_MAX_BYTES,
      fallback: (request, response) => {
        const started = performance.now();
        answerUnimplemented(request, response);
        metrics.unknownMethod((performance.now() - started) / 1000);
      },
    });
    // Plain gRPC calls (what agora's SDKs send) skip Connect's generic pipeline; Connect answers everything else.
    const grpc = grpcUnaryHandler({
      service: Transaction,
      impl: service,
      readMaxBytes: READ_MAX_BYTES,
      refusal: metrics.refusal,
      completed: metrics.completed,
    });
    const handler: RequestHandler = (request, response) => {
      if (!grpc(request, response)) connect(request, response);
    };
    if (signal.aborted) return;

    let metricsPort: number | undefined;
    if (config.metricsPort !== undefined) {
      const server = await startHealthServer({
        port: config.metricsPort,
        registry,
        ready: historyReadiness({
          chains,
          committer: store.committer,
          redactions: [
            { secret: config.store, shown: store.label },
            { secret: config.history, shown: target.label },
          ],
        }),
      });
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const address = server.address();
      metricsPort = typeof address === "object" && address ? address.port : config.metricsPort;
      logger.info({ port: metricsPort }, "metrics and health endpoints listening");
    }

    const rpc = await listenH2c({ host: config.host, port: config.port, handler }).catch((error: unknown) => {
      throw new Error(`--port: cannot listen on ${config.host}:${config.port}: ${listenProblem(error)}`);
    });
    cleanups.push(() => rpc.close(graceMs));
    logger.info(
      { grpcPort: rpc.port, host: rpc.host, chains: config.chains, history: target.label },
      `serving ${Transaction.typeName} (GetHistory, GetTransaction) over gRPC, gRPC-Web and Connect`,
    );
    onListening?.({ grpcPort: rpc.port, ...(metricsPort !== undefined ? { metricsPort } : {}) });

    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    logger.info({}, "serve: stopping");
  } finally {
    await runCleanups(cleanups, logger);
  }
}

function listenProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE") return "the port is in use";
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") return "no such address on this machine";
  if (code === "EACCES") return "not allowed (a port below 1024 needs privileges)";
  return code ?? (error instanceof Error ? error.message : String(error));
}
