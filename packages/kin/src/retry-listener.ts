import type { Logger } from "@tidemark/core";

/**
 * What kind of failure a retried chain request met, for metrics and health:
 * - `throttled`: HTTP 429;
 * - `http`: another HTTP error status (500, 503, ...);
 * - `timeout`: no answer within the request timeout;
 * - `network`: the connection failed (refused, reset, closed mid-body);
 * - `malformed`: the body is not JSON (garbage, HTML, truncated);
 * - `invalid`: JSON of the wrong shape (a `null` block, no `transactions`, slots not ascending, a bad event);
 * - `rpc`: the node answered with a JSON-RPC error object.
 */
export type RetryKind = "throttled" | "http" | "timeout" | "network" | "malformed" | "invalid" | "rpc";

/** A failed chain request that is about to be retried, as the ingestors' `onRetry` option reports it. */
export interface RetryInfo {
  /** The failure's kind, see {@link RetryKind}. */
  readonly kind: RetryKind;
  /** The endpoint's kind: `solana` (JSON-RPC) or `horizon`. */
  readonly backend: "solana" | "horizon";
  /** The request, e.g. `getBlock(1001)`, `GET /ledgers/102/transactions?cursor=` or `GET /ledgers (stream)`. */
  readonly operation: string;
  /** The attempt that failed, 1 for the first (for the Horizon stream: drops in a row). */
  readonly attempt: number;
  /** The wait before the next attempt, in ms (backoff, or the server's `Retry-After` when longer). */
  readonly delayMs: number;
  /** The HTTP status of the failed attempt; absent for timeouts, connection failures and JSON-RPC errors. */
  readonly status?: number;
  /** True when the endpoint asked to slow down (HTTP 429). */
  readonly throttled: boolean;
  /** The failure itself. */
  readonly error: unknown;
}

/** Told about each retried chain request; see {@link RetryInfo}. */
export type RetryListener = (info: RetryInfo) => void;

/** The kind of a failure that got an HTTP error status. */
export function statusKind(status: number): RetryKind {
  return status === 429 ? "throttled" : "http";
}

/** The retry facts that depend only on the failed attempt's HTTP status. */
export function retryStatus(status: number | undefined): Pick<RetryInfo, "status" | "throttled"> {
  return status === undefined ? { throttled: false } : { status, throttled: status === 429 };
}

/**
 * Calls the user's listener. A listener is for metrics and logs: one that
 * throws is logged and ignored, so it never stops the request from being retried.
 */
export function notifyRetry(listener: RetryListener | undefined, info: RetryInfo, logger: Logger): void {
  if (listener === undefined) return;
  try {
    listener(info);
  } catch (error) {
    logger.warn({ backend: info.backend, request: info.operation, err: error }, "onRetry listener threw; ignored");
  }
}
