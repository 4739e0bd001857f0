import { connect, createServer, type Server, type Socket } from "node:net";

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly held: { toServer: Buffer[]; toClient: Buffer[] };
  /** A request carrying the armed marker went through: its answer is to be lost. */
  loseNextAnswer: boolean;
}

/**
 * A TCP proxy on loopback in front of a real server, for fault injection that
 * any wire protocol sees the same way: stall traffic (a partition, a paused
 * server), cut every connection and refuse new ones (a restart as clients see
 * it), or let one request through and lose its answer (a write applied whose
 * acknowledgement never arrives).
 */
export class TcpFaultProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  #mode: "pass" | "stall" | "down" = "pass";
  #dropNextReply = false;
  #marker: Buffer | null = null;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  static async start(target: { host: string; port: number }): Promise<TcpFaultProxy> {
    const server = createServer();
    const proxy = new TcpFaultProxy(server, target);
    server.on("connection", (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  /** The port clients connect to, on 127.0.0.1. */
  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("proxy is not listening");
    return address.port;
  }

  /** `127.0.0.1:port`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Holds every byte in both directions until `resume`: the peers stay connected but hear nothing. */
  stall(): void {
    this.#mode = "stall";
  }

  /** Cuts every connection and refuses new ones until `resume`. */
  down(): void {
    this.#mode = "down";
    for (const pair of this.#pairs) this.#cut(pair);
  }

  /** Back to forwarding; stalled bytes are delivered. */
  resume(): void {
    this.#mode = "pass";
    for (const pair of this.#pairs) {
      for (const chunk of pair.held.toServer.splice(0)) pair.upstream.write(chunk);
      for (const chunk of pair.held.toClient.splice(0)) pair.client.write(chunk);
    }
  }

  /** The next reply from the server, on any connection, is thrown away and its connection cut. */
  dropNextReply(): void {
    this.#dropNextReply = true;
  }

  /**
   * The next request whose bytes contain `marker` (a unique key or name) reaches
   * the server; the server's answer to it is thrown away and the connection cut.
   * Unlike `dropNextReply`, unrelated traffic (driver heartbeats) is not hit.
   * Returns a function that tells whether an answer was lost since.
   */
  loseAnswerTo(marker: string | Uint8Array): () => boolean {
    const armed = Buffer.from(marker);
    this.#marker = armed;
    return () => this.#marker !== armed;
  }

  /** True until an armed `loseAnswerTo` has fired. */
  get armed(): boolean {
    return this.#marker !== null;
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) this.#cut(pair);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#mode === "down") {
      client.destroy();
      return;
    }
    const upstream = connect(this.#target);
    const pair: Pair = { client, upstream, held: { toServer: [], toClient: [] }, loseNextAnswer: false };
    this.#pairs.add(pair);
    client.on("data", (chunk: Buffer) => {
      if (this.#marker !== null && chunk.includes(this.#marker)) {
        this.#marker = null;
        pair.loseNextAnswer = true;
      }
      if (this.#mode === "stall") pair.held.toServer.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (this.#dropNextReply || pair.loseNextAnswer) {
        this.#dropNextReply = false;
        this.#cut(pair);
        return;
      }
      if (this.#mode === "stall") pair.held.toClient.push(chunk);
      else client.write(chunk);
    });
    const end = () => this.#cut(pair);
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  }

  #cut(pair: Pair): void {
    this.#pairs.delete(pair);
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
