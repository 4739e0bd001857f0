import { backoffDelay, sleep, withJitter } from "@tidemark/core";
import { type RetryInfo, type RetryKind, retryStatus } from "./retry-listener.js";

/** How requests to a chain endpoint are retried. */
export interface RetryOptions {
  /** Attempts per request, the first included (default 6). */
  readonly maxAttempts?: number;
  /** Backoff after the first failure, in ms (default 250; doubles per attempt). */
  readonly initialBackoffMs?: number;
  /** Cap of the backoff, in ms (default 10 000). */
  readonly maxBackoffMs?: number;
  /** The longest `Retry-After` honoured, in ms (default 60 000); longer requests are shortened to it. */
  readonly maxRetryAfterMs?: number;
}

/** How one failed attempt should be treated. */
export type FailureVerdict =
  | {
      readonly retry: true;
      /** What kind of failure it was, for {@link RetryInfo.kind}. */
      readonly kind: RetryKind;
      readonly retryAfterMs?: number;
      /** The attempt's HTTP status, if it got one. */
      readonly status?: number;
    }
  | { readonly retry: false; readonly error: unknown };

export interface RetryContext {
  readonly signal: AbortSignal;
  readonly options: RetryOptions;
  /** Classifies a failed attempt. */
  readonly classify: (error: unknown) => FailureVerdict;
  /** Builds the error thrown once attempts run out. */
  readonly exhausted: (error: unknown, attempts: number) => Error;
  /** The endpoint and request retried, as {@link RetryInfo} names them. */
  readonly backend: RetryInfo["backend"];
  readonly operation: string;
  /** Told about each retry, before its delay (logs, the user's listener); what it throws is ignored. */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Told when an attempt succeeds; what it throws is ignored. */
  readonly onSuccess?: () => void;
}

/**
 * Runs `attempt` until it succeeds, a failure is final, attempts run out or
 * `signal` aborts (then it rejects with the abort reason). The delay between
 * attempts is capped exponential backoff with ±20 % jitter, or the server's
 * `Retry-After` when that is longer.
 */
export async function withRetries<T>(
  context: RetryContext,
  attempt: (attemptNumber: number) => Promise<T>,
): Promise<T> {
  const { signal, options } = context;
  const maxAttempts = options.maxAttempts ?? 6;
  for (let n = 1; ; n++) {
    signal.throwIfAborted();
    let result: T;
    try {
      result = await attempt(n);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const verdict = context.classify(error);
      if (!verdict.retry) throw verdict.error;
      if (n >= maxAttempts) throw context.exhausted(error, n);
      const backoff = withJitter(
        backoffDelay(n, { initialMs: options.initialBackoffMs ?? 250, maxMs: options.maxBackoffMs ?? 10_000 }),
        0.2,
      );
      const retryAfter = Math.min(verdict.retryAfterMs ?? 0, options.maxRetryAfterMs ?? 60_000);
      const delayMs = Math.max(backoff, retryAfter);
      try {
        context.onRetry?.({
          kind: verdict.kind,
          backend: context.backend,
          operation: context.operation,
          attempt: n,
          delayMs,
          ...retryStatus(verdict.status),
          error,
        });
      } catch {
        // Reporting a retry (a log line, a metric) must never be what stops it.
      }
      await sleep(delayMs, signal);
      continue;
    }
    try {
      context.onSuccess?.();
    } catch {
      // As for onRetry: reporting never changes the outcome.
    }
    return result;
  }
}

/** Parses an HTTP `Retry-After` value (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Runs `fn` with a signal that aborts when `signal` does or after `timeoutMs`,
 * and clears its timer afterwards. A timeout rejects with a `TimeoutError`.
 */
export async function withTimeout<T>(
  signal: AbortSignal,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`request timed out after ${timeoutMs} ms`, "TimeoutError")),
    timeoutMs,
  );
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await fn(controller.signal);
  } catch (error) {
    // Report the timeout itself rather than whatever the aborted request turned it into.
    if (controller.signal.aborted && !signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/** True for a `TimeoutError` from {@link withTimeout}. */
export function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError";
}
