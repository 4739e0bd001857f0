import { describe } from "../describe.js";
import { RpcResponseError } from "../errors.js";

/** The node answered with a JSON-RPC error object; its code and its own message are kept. */
export class JsonRpcError extends Error {
  override readonly name = "JsonRpcError";

  constructor(
    /** The JSON-RPC error code, e.g. -32004 (block not available) or -32000. */
    readonly code: number,
    /** The node's message. */
    readonly serverMessage: string,
  ) {
    super(`JSON-RPC error ${code}: ${serverMessage}`);
  }
}

/**
 * Parses the body of a JSON-RPC response for `@solana/kit`'s transport and
 * throws its error object as a {@link JsonRpcError} before kit sees it. kit
 * builds its errors from a table of known codes: one it has no entry for (the
 * -32000 a node behind a proxy answers "Node is unhealthy" with) becomes a
 * `TypeError` that has lost the node's message, and a few known ones replace
 * the node's message with a template. A body that is not JSON throws a
 * `SyntaxError`; JSON that is not a JSON-RPC response, an {@link RpcResponseError}.
 */
export function parseJsonRpcResponse(raw: string, method: string): unknown {
  // Plain JSON.parse: every number the ingestor reads is far below 2^53 (see the transport).
  const response: unknown = JSON.parse(raw);
  if (typeof response !== "object" || response === null || Array.isArray(response)) {
    throw new RpcResponseError(
      `Solana RPC ${method}: the response is ${describe(response)}, not a JSON-RPC object`,
      "response",
    );
  }
  if (!("error" in response)) return response;
  const error = (response as { error: unknown }).error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof code !== "number" || !Number.isInteger(code) || typeof message !== "string") {
    throw new RpcResponseError(
      `Solana RPC ${method}: the response's error must have an integer code and a message, got ${describe(error)}`,
      "error",
    );
  }
  throw new JsonRpcError(code, message);
}
