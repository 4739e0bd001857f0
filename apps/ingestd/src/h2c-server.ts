import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import { createServer as createTcpServer, type Socket } from "node:net";

export type RequestHandler = (
  request: IncomingMessage | Http2ServerRequest,
  response: ServerResponse | Http2ServerResponse,
) => void;

/** A listening cleartext server that speaks HTTP/2 and HTTP/1.1 on the same port. */
export interface H2cServer {
  readonly host: string;
  readonly port: number;
  /**
   * Stops accepting connections, lets requests in flight finish for up to
   * `graceMs`, then cuts whatever is left; resolves once every connection is
   * closed.
   */
  close(graceMs: number): Promise<void>;
}

// Every HTTP/2 connection opens with "PRI * HTTP/2.0…"; no HTTP/1.1 request line starts with "PRI".
const H2_PREFACE_START = "PRI";

/**
 * Listens with `handler` on `host:port` (0: a free port) for HTTP/2 without
 * TLS (h2c with prior knowledge, as gRPC clients speak it on an insecure
 * channel) and HTTP/1.1 (Connect JSON with curl, gRPC-Web). Node's
 * `allowHTTP1` works only with TLS, so each connection's first bytes choose
 * the protocol. It keeps track of its connections so that closing it leaves
 * none open.
 */
export async function listenH2c(options: { host: string; port: number; handler: RequestHandler }): Promise<H2cServer> {
  const http2 = createHttp2Server(options.handler);
  const http1 = createHttp1Server(options.handler);
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  // HTTP/1.1 requests in flight per connection: an idle one is closed at once on shutdown.
  const inFlight = new Map<Socket, number>();
  // Connections handed to HTTP/2: their sessions close them.
  const http2Sockets = new Set<Socket>();
  let closing = false;

  const tcp = createTcpServer((socket) => {
    sockets.add(socket);
    // A client may reset the connection before a protocol is chosen; that is its business, not a crash.
    socket.on("error", () => {});
    socket.once("close", () => {
      sockets.delete(socket);
      inFlight.delete(socket);
      http2Sockets.delete(socket);
    });
    let head = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < H2_PREFACE_START.length) return;
      socket.off("data", sniff);
      socket.pause();
      socket.unshift(head);
      if (head.subarray(0, H2_PREFACE_START.length).toString("latin1") === H2_PREFACE_START) {
        http2Sockets.add(socket);
        http2.emit("connection", socket);
      } else {
        inFlight.set(socket, 0);
        http1.emit("connection", socket);
        // The HTTP/1 parser reads the socket itself; what was already read reaches it once the socket flows.
        socket.resume();
      }
    };
    socket.on("data", sniff);
  });
  http2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
  });
  http1.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(options.port, options.host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const address = tcp.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;

  return {
    host: options.host,
    port,
    async close(graceMs) {
      closing = true;
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      // HTTP/2: GOAWAY, then each session ends when its streams have.
      for (const session of sessions) session.close();
      // HTTP/1.1 connections between requests, and connections that have not said anything yet.
      for (const socket of sockets) {
        const requests = inFlight.get(socket);
        if (requests === 0 || (requests === undefined && !http2Sockets.has(socket))) socket.destroy();
      }
      const deadline = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      try {
        await closed;
      } finally {
        clearTimeout(deadline);
      }
    },
  };
}
