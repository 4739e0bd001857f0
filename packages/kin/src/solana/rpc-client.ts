import type { Agent as HttpAgent } from "node:http";
import type { Agent as HttpsAgent } from "node:https";
// The RPC and errors packages rather than all of @solana/kit: the process reading blocks loads only these.
import { isSolanaError, SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR } from "@solana/errors";
import type { Slot } from "@solana/kit";
import { createSolanaRpcFromTransport } from "@solana/rpc";
import { createHttpTransport } from "@solana/rpc-transport-http";
import { ConfigurationError, type Logger } from "@tidemark/core";
import type { ByteBudget } from "../byte-budget.js";
import { describe } from "../describe.js";
import { KinRpcError, RpcResponseError } from "../errors.js";
import { HttpStatusError } from "../http-status-error.js";
import { notifySucceeded, type RequestListener } from "../request-listener.js";
import {
  type FailureVerdict,
  isTimeout,
  parseRetryAfter,
  type RetryContext,
  type RetryOptions,
  withRetries,
  withTimeout,
} from "../retry.js";
import { notifyRetry, type RetryListener, statusKind } from "../retry-listener.js";
import type { BlockBody } from "./block-body.js";
import type { BodyBuffers } from "./body-buffers.js";
import { httpPost } from "./http-post.js";
import { JsonRpcError, parseJsonRpcResponse } from "./json-rpc-response.js";

/** What a getBlock request goes through: the session's connections and its budget of bytes in flight. */
export interface BlockTransport {
  readonly agent: HttpAgent | HttpsAgent;
  readonly budget: ByteBudget;
  /** The buffers bodies are read into (default: a new one for each). */
  readonly buffers?: BodyBuffers;
}

export interface SolanaRpcClientOptions {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly requestTimeoutMs: number;
  readonly retry: RetryOptions;
  readonly onRetry?: RetryListener;
  readonly onRequestSucceeded?: RequestListener;
  readonly logger: Logger;
}

// HTTP statuses that no retry can fix: the URL, credentials or method are wrong.
const CONFIGURATION_STATUSES = new Set([400, 401, 403, 404, 405]);
// JSON-RPC errors that no retry can fix: invalid request, method not found, invalid params,
// a transaction version newer than the one asked for.
const CONFIGURATION_CODES = new Set([-32600, -32601, -32602, -32015]);

/**
 * The three RPC calls the Kin4 ingestor makes, on `@solana/kit`, each with a
 * timeout, retries and a validated response. Every failure names the backend,
 * the method and the slot.
 */
export class SolanaRpcClient {
  readonly #rpc: ReturnType<typeof createSolanaRpcFromTransport<ReturnType<typeof createHttpTransport>>>;
  readonly #url: URL;
  #nextId = 0;
  readonly #options: SolanaRpcClientOptions;

  constructor(options: SolanaRpcClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (error) {
      throw new ConfigurationError(`Solana RPC: invalid URL "${options.url}"`, { cause: error });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ConfigurationError(`Solana RPC: URL must be http or https, got "${options.url}"`);
    }
    this.#options = options;
    // kit types headers to forbid a few names (Accept, Content-Type, ...); it rejects those at runtime.
    type Headers = NonNullable<Parameters<typeof createHttpTransport>[0]["headers"]>;
    let transport: ReturnType<typeof createHttpTransport>;
    try {
      transport = createHttpTransport({
        url: options.url,
        ...(options.headers ? { headers: { ...options.headers } as Headers } : {}),
        // kit's default parser keeps every integer exact by scanning the body character by
        // character, which costs more than everything else on a multi-megabyte mainnet block.
        // Every number the ingestor reads (slots, indexes, error codes, block times) is far
        // below 2^53, so plain JSON.parse is exact for them; kit's transformers still upcast.
        // Error objects are thrown here, before kit's mapping can lose them (see parseJsonRpcResponse).
        fromJson: (raw, payload) => parseJsonRpcResponse(raw, methodOf(payload)),
        toJson: (payload) =>
          JSON.stringify(payload, (_key, value) => (typeof value === "bigint" ? Number(value) : value)),
      });
    } catch (error) {
      throw new ConfigurationError(`Solana RPC ${options.url}: ${(error as Error).message}`, { cause: error });
    }
    this.#url = url;
    this.#rpc = createSolanaRpcFromTransport(transport);
  }

  /** Finalized slots with a block, starting at `start`, at most `limit` of them, ascending. */
  getBlocksWithLimit(signal: AbortSignal, start: bigint, limit: number): Promise<bigint[]> {
    const what = `getBlocksWithLimit(${start}, ${limit})`;
    return this.#call(what, signal, async (requestSignal) => {
      const slots: unknown = await this.#rpc
        .getBlocksWithLimit(start as Slot, limit, { commitment: "finalized" })
        .send({ abortSignal: requestSignal });
      return validateSlots(what, slots, start);
    });
  }

  /**
   * The getBlock answer for `slot` (base64 transactions, full details, no
   * rewards) as body bytes, still compressed, passed through `read`. The body
   * is read with Node's HTTP client over `transport.agent`, gzip asked for,
   * and counted against `transport.budget` until `read` settles. `read` runs
   * inside the retry loop (outside the request timeout), so a body it rejects
   * with a `SyntaxError`, {@link JsonRpcError} or {@link RpcResponseError} is
   * fetched again, as any failed request.
   */
  getBlock<T>(
    signal: AbortSignal,
    slot: bigint,
    transport: BlockTransport,
    read: (body: BlockBody) => Promise<T>,
  ): Promise<T> {
    const what = `getBlock(${slot})`;
    const { requestTimeoutMs } = this.#options;
    return withRetries(this.#retryContext(what, signal), async () => {
      const payload = JSON.stringify({
        jsonrpc: "2.0",
        id: this.#nextId++,
        method: "getBlock",
        params: [
          Number(slot),
          {
            commitment: "finalized",
            encoding: "base64",
            maxSupportedTransactionVersion: 0,
            rewards: false,
            transactionDetails: "full",
          },
        ],
      });
      await transport.budget.admit(signal);
      let counted = 0;
      try {
        const body = await withTimeout(signal, requestTimeoutMs, (requestSignal) =>
          httpPost({
            url: this.#url,
            body: payload,
            headers: this.#options.headers ?? {},
            agent: transport.agent,
            signal: requestSignal,
            what: `Solana RPC ${what}`,
            ...(transport.buffers ? { buffers: transport.buffers } : {}),
            onBytes: (bytes) => {
              counted += bytes;
              transport.budget.add(bytes);
            },
          }),
        );
        return await read(body);
      } finally {
        transport.budget.release(counted);
      }
    });
  }

  /** The newest finalized slot. */
  getFinalizedSlot(signal: AbortSignal): Promise<bigint> {
    const what = "getSlot(finalized)";
    return this.#call(what, signal, async (requestSignal) => {
      const slot: unknown = await this.#rpc.getSlot({ commitment: "finalized" }).send({ abortSignal: requestSignal });
      if (typeof slot !== "bigint" && !(typeof slot === "number" && Number.isSafeInteger(slot) && slot >= 0)) {
        throw new RpcResponseError(`Solana RPC ${what}: result must be a slot number, got ${describe(slot)}`, "result");
      }
      return BigInt(slot);
    });
  }

  #call<T>(what: string, signal: AbortSignal, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { requestTimeoutMs } = this.#options;
    return withRetries(this.#retryContext(what, signal), async () => {
      try {
        return await withTimeout(signal, requestTimeoutMs, attempt);
      } catch (error) {
        throw plainHttpError(error);
      }
    });
  }

  #retryContext(what: string, signal: AbortSignal): RetryContext {
    const { retry, logger } = this.#options;
    return {
      signal,
      options: retry,
      backend: "solana",
      operation: what,
      classify: (error) => classify(what, error),
      exhausted: (error, attempts) =>
        new KinRpcError(
          `Solana RPC ${what} failed after ${attempts} attempts: ${describeError(error)}`,
          what,
          attempts,
          {
            cause: error,
          },
        ),
      onRetry: (info) => {
        notifyRetry(this.#options.onRetry, info, logger);
        logger.warn(
          {
            backend: "solana",
            request: what,
            kind: info.kind,
            attempt: info.attempt,
            delayMs: Math.round(info.delayMs),
            status: info.status,
            reason: describeError(info.error),
          },
          "Solana RPC request failed; retrying",
        );
      },
      onSuccess: () =>
        notifySucceeded(this.#options.onRequestSucceeded, { backend: "solana", operation: what }, logger),
    };
  }
}

/** The JSON-RPC method of a request payload, for error messages. */
function methodOf(payload: unknown): string {
  const method = (payload as { method?: unknown } | null)?.method;
  return typeof method === "string" ? method : "request";
}

/** kit's HTTP error as an {@link HttpStatusError}, which loggers can serialize. */
function plainHttpError(error: unknown): unknown {
  if (!isSolanaError(error, SOLANA_ERROR__RPC__TRANSPORT_HTTP_ERROR)) return error;
  const { statusCode, message, headers } = error.context;
  return new HttpStatusError(statusCode, message ?? "", parseRetryAfter(headers?.get("retry-after")));
}

function classify(what: string, error: unknown): FailureVerdict {
  // A redirect that cannot be followed: only a different URL helps.
  if (error instanceof ConfigurationError) return { retry: false, error };
  if (error instanceof HttpStatusError) {
    if (CONFIGURATION_STATUSES.has(error.status)) {
      return { retry: false, error: new ConfigurationError(`Solana RPC ${what}: ${error.message}`, { cause: error }) };
    }
    return {
      retry: true,
      kind: statusKind(error.status),
      status: error.status,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
  }
  if (error instanceof JsonRpcError) {
    if (CONFIGURATION_CODES.has(error.code)) {
      return {
        retry: false,
        error: new ConfigurationError(`Solana RPC ${what} rejected the request: ${error.message}`, { cause: error }),
      };
    }
    // Every other JSON-RPC error (slot skipped, block not available yet, node unhealthy, internal error):
    // a node that is behind or a load balancer hitting another node can answer differently next time.
    return { retry: true, kind: "rpc" };
  }
  if (error instanceof RpcResponseError) return { retry: true, kind: "invalid" };
  if (error instanceof SyntaxError) return { retry: true, kind: "malformed" };
  if (isTimeout(error)) return { retry: true, kind: "timeout" };
  // What is left failed on the way: fetch's connection errors (refused, reset, a body cut off).
  return { retry: true, kind: "network" };
}

function validateSlots(what: string, value: unknown, start: bigint): bigint[] {
  if (!Array.isArray(value)) {
    throw new RpcResponseError(
      `Solana RPC ${what}: result must be an array of slots, got ${describe(value)}`,
      "result",
    );
  }
  const slots: bigint[] = [];
  let previous = start - 1n;
  for (const [i, raw] of value.entries()) {
    const ok = typeof raw === "bigint" || (typeof raw === "number" && Number.isSafeInteger(raw));
    if (!ok)
      throw new RpcResponseError(
        `Solana RPC ${what}: result[${i}] must be a slot number, got ${describe(raw)}`,
        `result[${i}]`,
      );
    const slot = BigInt(raw);
    if (slot <= previous) {
      throw new RpcResponseError(
        `Solana RPC ${what}: result[${i}] = ${slot} does not ascend from ${previous === start - 1n ? `the start slot ${start}` : previous}`,
        `result[${i}]`,
      );
    }
    slots.push(slot);
    previous = slot;
  }
  return slots;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
