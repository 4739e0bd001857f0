import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import type { ChainState } from "./node-state.js";

export interface HealthServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly chains: readonly ChainState[];
  /** A chain is ready when its lag is at most this many blocks (default 10). */
  readonly readyLag?: bigint;
  /** A leader whose commits stalled this long is not reported as leading (default 60 s). */
  readonly stallMs?: number;
}

/**
 * `/metrics` (Prometheus), `/healthz` (the process is alive), `/ready`
 * (every chain caught up with its head), `/leader` (this node holds the lock
 * and its commits advance). Status 200 or 503 with a small JSON body.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<Server> {
  const readyLag = options.readyLag ?? 10n;
  const stallMs = options.stallMs ?? 60_000;
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
      const chains = options.chains.map((c) => ({ chain: c.chain, lag: c.lag?.toString() ?? null }));
      const ready = options.chains.every((c) => c.lag !== null && c.lag <= readyLag);
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
