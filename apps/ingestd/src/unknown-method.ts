import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

type NodeHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

const message = "method not implemented";

/** What answering needs of an HTTP/1.1 or HTTP/2 response. */
interface Reply {
  writeHead(status: number, headers: Record<string, string>): unknown;
  addTrailers(trailers: Record<string, string>): void;
  end(body?: string): unknown;
}

/**
 * Answers a request for a method this server does not have with
 * UNIMPLEMENTED in the caller's protocol: a gRPC status in the trailers (gRPC)
 * or headers (gRPC-Web), or Connect's JSON error with HTTP 404.
 */
export function answerUnimplemented(...[request, response]: Parameters<NodeHandler>): void {
  const reply = response as unknown as Reply;
  const type = String(request.headers["content-type"] ?? "").toLowerCase();
  // The body is not needed; reading it to the end lets an HTTP/1.1 connection be reused.
  request.resume();
  if (type.startsWith("application/grpc-web")) {
    reply.writeHead(200, { "content-type": type, "grpc-status": "12", "grpc-message": message });
    reply.end();
  } else if (type.startsWith("application/grpc")) {
    reply.writeHead(200, { "content-type": "application/grpc" });
    reply.addTrailers({ "grpc-status": "12", "grpc-message": message });
    reply.end();
  } else {
    reply.writeHead(404, { "content-type": "application/json" });
    reply.end(JSON.stringify({ code: "unimplemented", message }));
  }
}
