import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import type { ChainState } from "./node-state.js";
import { chainReadiness } from "./readiness.js";

export interface HealthServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly chains: readonly ChainState[];
  /** A leading chain is ready when its lag is at most this many blocks (default 10). */
  readonly readyLag?: bigint;
  /** A request failing this many times in a row makes its chain unready (default 5). */
  readonly unreadyAfterFailures?: number;
  /** A chain whose store has not answered a read for this long is unready, in ms (default 15 000). */
  readonly storeFreshMs?: number;
  /** A leader whose commits stalled this long is not reported as leading (default 60 s). */
  readonly stallMs?: number;
}

/**
 * `/metrics` (Prometheus), `/healthz` (the process is alive), `/ready`
 * (every chain could be served: store and chain answer, no request keeps
 * failing, and a leader caught up with its head; see `chainReadiness`),
 * `/leader` (this node holds the lock and its commits advance). Status 200
 * or 503 with a small JSON body that says why.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const readyLag = options.readyLag ?? 10n;
  const stallMs = options.stallMs ?? 60_000;
  const rules = {
    readyLag,
    unreadyAfterFailures: options.unreadyAfterFailures ?? 5,
    storeFreshMs: options.storeFreshMs ?? 15_000,
  };
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
    if (path === "/ready") {
      const chains = options.chains.map((c) => chainReadiness(c, rules));
      const ready = chains.every((c) => c.ready);
      return reply(ready, { ready, chains });
    }
    if (path === "/leader") {
      const now = performance.now();
      const chains = options.chains.map((c) => ({
        chain: c.chain,
        leader: c.leader && (c.lastCommitAt === null ? true : now - c.lastCommitAt < stallMs || c.lag === 0n),
      }));
      return reply(
        chains.some((c) => c.leader),
        { chains },
      );
    }
    reply(false, { error: `no such endpoint: ${path}`, endpoints: ["/metrics", "/healthz", "/ready", "/leader"] });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  return server;
}
