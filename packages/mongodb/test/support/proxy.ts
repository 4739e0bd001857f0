import { connect, createServer, type Server, type Socket } from "node:net";
import { MongoClient } from "mongodb";

/**
 * A TCP proxy on loopback in front of the real server, for fault injection:
 * it can stall traffic (a partition or a paused server), cut every
 * connection and refuse new ones (a restart as clients see it), or swallow
 * one reply (a write applied whose acknowledgement never arrives).
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<{ client: Socket; upstream: Socket; held: { toServer: Buffer[]; toClient: Buffer[] } }>();
  #mode: "pass" | "stall" | "down" = "pass";
  #dropNextReply = false;

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, target);
    server.on("connection", (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  /** `host:port` clients connect to. */
  get address(): string {
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("proxy is not listening");
    return `127.0.0.1:${address.port}`;
  }

  /** Holds every byte in both directions until `resume`. */
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

  /** The next reply from the server is thrown away and its connection cut: the request was served, unacknowledged. */
  dropNextReply(): void {
    this.#dropNextReply = true;
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
    const pair = { client, upstream, held: { toServer: [] as Buffer[], toClient: [] as Buffer[] } };
    this.#pairs.add(pair);
    client.on("data", (chunk: Buffer) => {
      if (this.#mode === "stall") pair.held.toServer.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (this.#dropNextReply) {
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

  #cut(pair: { client: Socket; upstream: Socket }): void {
    this.#pairs.delete(pair as never);
    pair.client.destroy();
    pair.upstream.destroy();
  }
}

/**
 * The suite's connection string rewritten to go through `proxy`, talking to
 * that one server directly (`directConnection`), credentials and options kept.
 */
function throughProxy(uri: string, proxy: FaultProxy): string {
  const match = /^mongodb:\/\/([^@/]*@)?([^/?]+)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (match === null) {
    throw new Error(
      `fault tests need a mongodb:// connection string with a host list (not mongodb+srv): ${redact(uri)}`,
    );
  }
  const [, credentials = "", , path = "/", query = ""] = match;
  const parameters = new URLSearchParams(query.slice(1));
  parameters.set("directConnection", "true");
  return `mongodb://${credentials}${proxy.address}${path}?${parameters}`;
}

/** Starts a proxy in front of the server that takes writes (a replica set's primary, else the URI's first host). */
export async function proxyFor(uri: string): Promise<{ proxy: FaultProxy; uri: string }> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  let primary: unknown;
  try {
    // isMaster, not hello: mongo-java-server only knows the older name; MongoDB still answers it.
    primary = (await client.db("admin").command({ isMaster: 1 })).primary;
  } finally {
    await client.close();
  }
  const target = parseHost(typeof primary === "string" ? primary : firstHost(uri));
  const proxy = await FaultProxy.start(target);
  return { proxy, uri: throughProxy(uri, proxy) };
}

function firstHost(uri: string): string {
  const first = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri)?.[1]?.split(",")[0];
  if (!first) throw new Error(`cannot find a host in ${redact(uri)}`);
  return first;
}

function parseHost(hostPort: string): { host: string; port: number } {
  const colon = hostPort.lastIndexOf(":");
  if (colon <= 0) return { host: hostPort, port: 27017 };
  return { host: hostPort.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(hostPort.slice(colon + 1)) };
}

function redact(uri: string): string {
  return uri.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}
