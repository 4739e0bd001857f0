import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One DynamoDB request as the proxy sees it: the API call and its JSON body. */
export interface SeenRequest {
  /** e.g. `UpdateItem`, from the X-Amz-Target header. */
  readonly operation: string;
  readonly body: Record<string, unknown>;
}

/**
 * What the proxy does instead of passing a request through:
 * - `throttle`, `expired`, `error500`: answer with that error, never reaching the server;
 * - `drop`: close the connection without forwarding (nothing happened);
 * - `dropAfterForward`: forward, let the server apply it, then close the connection
 *   without answering (an ambiguous success);
 * - `error500AfterForward`: forward, then answer 500 (an ambiguous success with a 5xx);
 * - `unprocessed`: answer a `BatchWriteItem` or `BatchGetItem` with success but every item
 *   handed back as unprocessed, never reaching the server (what DynamoDB does when a partition is busy);
 * - `delay`: forward it `delayMs` late (a slow link), so requests sent after it can overtake it.
 */
export type Fault =
  | "throttle"
  | "expired"
  | "error500"
  | "drop"
  | "dropAfterForward"
  | "error500AfterForward"
  | "unprocessed"
  | "delay";

export interface Rule {
  readonly match: (request: SeenRequest) => boolean;
  readonly fault: Fault;
  /** How many matching requests get the fault (default: all). */
  readonly times?: number;
  /** For `delay`: how long, in ms (default 500). */
  readonly delayMs?: number;
}

interface ActiveRule extends Rule {
  hits: number;
}

const ERRORS: Partial<Record<Fault, { status: number; type: string; message: string }>> = {
  throttle: { status: 400, type: "ThrottlingException", message: "Rate of requests exceeds the allowed throughput." },
  expired: {
    status: 400,
    type: "ExpiredTokenException",
    message: "The security token included in the request is expired",
  },
  error500: { status: 500, type: "InternalServerError", message: "Internal server error (injected)" },
  error500AfterForward: { status: 500, type: "InternalServerError", message: "Internal server error (injected)" },
};

/**
 * A small HTTP proxy on loopback in front of the real DynamoDB, injecting the
 * faults DynamoDB Local never produces: throttling, expired credentials,
 * server errors and lost answers. It needs a plain-HTTP upstream.
 */
export class FaultProxy {
  readonly url: string;
  /** Every request that reached the proxy, in order. */
  readonly seen: SeenRequest[] = [];
  readonly #server: Server;
  readonly #upstream: URL;
  readonly #sockets = new Set<Socket>();
  #rules: ActiveRule[] = [];

  private constructor(server: Server, upstream: URL) {
    this.#server = server;
    this.#upstream = upstream;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(upstream: string): Promise<FaultProxy> {
    const target = new URL(upstream);
    if (target.protocol !== "http:") throw new Error(`fault proxy needs a plain-HTTP upstream, got ${upstream}`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const proxy = new FaultProxy(server, target);
    server.on("connection", (socket) => {
      proxy.#sockets.add(socket);
      socket.once("close", () => proxy.#sockets.delete(socket));
    });
    server.on("request", (req, res) => void proxy.#handle(req, res));
    return proxy;
  }

  /** Adds a rule; the first matching rule with hits left applies. Returns it, to read `hits`. */
  add(rule: Rule): { readonly hits: number } {
    const active: ActiveRule = { ...rule, hits: 0 };
    this.#rules.push(active);
    return active;
  }

  clear(): void {
    this.#rules = [];
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const target = String(req.headers["x-amz-target"] ?? "");
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw.toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      // Not JSON: forwarded as it is.
    }
    const seen: SeenRequest = { operation: target.slice(target.indexOf(".") + 1), body };
    this.seen.push(seen);
    const rule = this.#rules.find(
      (candidate) => (candidate.times ?? Infinity) > candidate.hits && candidate.match(seen),
    );
    if (rule) rule.hits++;
    const fault = rule?.fault;
    if (fault === "drop") {
      req.socket.destroy();
      return;
    }
    if (fault === "delay") await new Promise((resolve) => setTimeout(resolve, rule?.delayMs ?? 500));
    if (fault === "unprocessed") {
      const left = seen.operation === "BatchGetItem" ? "UnprocessedKeys" : "UnprocessedItems";
      answer(res, 200, { ...(left === "UnprocessedKeys" ? { Responses: {} } : {}), [left]: body.RequestItems ?? {} });
      return;
    }
    const injected = fault === undefined ? undefined : ERRORS[fault];
    if (injected && fault !== "error500AfterForward") {
      answerError(res, injected);
      return;
    }
    let upstream: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
    try {
      upstream = await this.#forward(req, raw);
    } catch {
      req.socket.destroy();
      return;
    }
    if (fault === "dropAfterForward") {
      req.socket.destroy();
      return;
    }
    if (injected) {
      answerError(res, injected);
      return;
    }
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  #forward(req: IncomingMessage, body: Buffer) {
    return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>(
      (resolve, reject) => {
        const out = request(
          {
            host: this.#upstream.hostname,
            port: this.#upstream.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, connection: "close" },
          },
          async (response) => {
            const chunks: Buffer[] = [];
            try {
              for await (const chunk of response) chunks.push(chunk as Buffer);
            } catch (error) {
              reject(error);
              return;
            }
            const headers = { ...response.headers };
            delete headers.connection;
            delete headers["transfer-encoding"];
            headers["content-length"] = String(Buffer.concat(chunks).length);
            resolve({ status: response.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
          },
        );
        out.once("error", reject);
        out.end(body);
      },
    );
  }
}

function answerError(res: ServerResponse, error: { status: number; type: string; message: string }): void {
  answer(res, error.status, { __type: `com.amazonaws.dynamodb.v20120810#${error.type}`, message: error.message });
}

function answer(res: ServerResponse, status: number, json: unknown): void {
  const body = JSON.stringify(json);
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.0",
    "content-length": String(Buffer.byteLength(body)),
    "x-amzn-requestid": "tidemark-fault-proxy",
  });
  res.end(body);
}

/** Matches requests of one API call on one table, e.g. `on("UpdateItem", locks)`. */
export function on(operation: string, table?: string, extra?: (body: Record<string, unknown>) => boolean) {
  return (request: SeenRequest): boolean =>
    request.operation === operation &&
    (table === undefined || request.body.TableName === table) &&
    (extra === undefined || extra(request.body));
}
