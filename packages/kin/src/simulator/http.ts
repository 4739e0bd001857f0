import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** An HTTP server on a free loopback port that can be closed at once, open streams included. */
export class LoopbackServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #url = "";

  constructor(handler: (request: IncomingMessage, response: ServerResponse) => void) {
    this.#server = createServer(handler);
    // Keep-alive sockets and event streams would hold `close` open: track them to destroy them.
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
  }

  /** `http://127.0.0.1:<port>` once listening. */
  get url(): string {
    return this.#url;
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("loopback server has no TCP address");
    this.#url = `http://127.0.0.1:${address.port}`;
    return this.#url;
  }

  /** Drops every open connection (a network blip); the server keeps listening. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.dropConnections();
    await closed;
  }
}

/** Reads a request body as text. */
export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Waits `ms`, or less when `signal` aborts (never rejects). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Waits for `promise` to settle, or less when `signal` aborts (never rejects). */
export function settled(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    promise.then(done, done);
  });
}

// Arrival times a long-running simulated node keeps (the tests read a few; run.sh runs for hours).
const KEPT = 10_000;

/** Trims a growing log to its newest entries, in batches so trimming stays cheap. */
export function keepRecent(log: unknown[]): void {
  if (log.length > 2 * KEPT) log.splice(0, log.length - KEPT);
}
