import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import type { ChainState } from "./node-state.js";
import { chainReadiness } from "./readiness.js";

export interface HealthServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  /** The chains `run` ingests: `/ready` and `/leader` report on them. */
  readonly chains?: readonly ChainState[];
  /**
   * Answers `/ready` instead of the chains (`serve`: whether the history store
   * answers); `/leader` is then not served. It must settle on its own (a
   * timeout of its own) and say why it is not ready without internals.
   */
  readonly ready?: () => Promise<ReadyReport>;
  /** A leading chain is ready when its lag is at most this many blocks (default 10). */
  readonly readyLag?: bigint;
  /** A request failing this many times in a row makes its chain unready (default 5). */
  readonly unreadyAfterFailures?: number;
  /** A chain whose store has not answered a read for this long is unready, in ms (default 15 000). */
  readonly storeFreshMs?: number;
  /** A leader whose commits stalled this long is not reported as leading (default 60 s). */
  readonly stallMs?: number;
}

/** The body of `/ready`; the status is 200 when `ready`, else 503. */
export interface ReadyReport {
  readonly ready: boolean;
  readonly [detail: string]: unknown;
}

/**
 * `/metrics` (Prometheus), `/healthz` (the process is alive), `/ready`
 * (every chain could be served: store and chain answer, no request keeps
 * failing, and a leader caught up with its head; see `chainReadiness`; or
 * what `options.ready` says), `/leader` (this node holds the lock and its
 * commits advance; `run` only). Status 200 or 503 with a small JSON body
 * that says why.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const readyLag = options.readyLag ?? 10n;
  const stallMs = options.stallMs ?? 60_000;
  const rules = {
    readyLag,
    unreadyAfterFailures: options.unreadyAfterFailures ?? 5,
    storeFreshMs: options.storeFreshMs ?? 15_000,
  };
  const chainStates = options.chains ?? [];
  const readyProbe = options.ready;
  const endpoints = readyProbe ? ["/metrics", "/healthz", "/ready"] : ["/metrics", "/healthz", "/ready", "/leader"];
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const reply = (ok: boolean, body: unknown) => {
      response.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
      response.end(`${JSON.stringify(body)}\n`);
    };
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { "content-type": options.registry.contentType });
          response.end(text);
        },
        (error: unknown) => reply(false, { error: String(error) }),
      );
      return;
    }
    if (path === "/healthz") return reply(true, { status: "alive" });
    if (path === "/ready" && readyProbe) {
      readyProbe().then(
        (report) => reply(report.ready, report),
        () => reply(false, { ready: false, reasons: ["the readiness check failed"] }),
      );
      return;
    }
    if (path === "/ready") {
      const chains = chainStates.map((c) => chainReadiness(c, rules));
      const ready = chains.every((c) => c.ready);
      return reply(ready, { ready, chains });
    }
    if (path === "/leader" && !readyProbe) {
      const now = performance.now();
      const chains = chainStates.map((c) => ({
        chain: c.chain,
        leader: c.leader && (c.lastCommitAt === null ? true : now - c.lastCommitAt < stallMs || c.lag === 0n),
      }));
      return reply(
        chains.some((c) => c.leader),
        { chains },
      );
    }
    reply(false, { error: `no such endpoint: ${path}`, endpoints });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  return server;
}
