import { backoffDelay, type Logger, withJitter } from "@tidemark/core";
import { KinRpcError, RpcResponseError } from "../errors.js";
import { HttpStatusError } from "../http-status-error.js";
import { notifySucceeded, type RequestListener } from "../request-listener.js";
import { isTimeout, type RetryOptions } from "../retry.js";
import { notifyRetry, type RetryKind, type RetryListener, retryStatus, statusKind } from "../retry-listener.js";
import { readEventStream, type ServerSentEvent } from "./event-stream.js";
import { type HorizonClient, type LedgerInfo, parseLedger } from "./horizon-client.js";

const STABLE_STREAM_MS = 5000;
const STREAM_OPERATION = "GET /ledgers (stream)";

export interface LedgerStreamOptions {
  readonly client: HorizonClient;
  /** Deliver ledgers after this one (null: from Horizon's oldest). */
  readonly after: number | null;
  /** Buffered ledgers at which the stream is closed until the consumer catches up. */
  readonly highWater: number;
  /** Reconnect when the stream has been silent this long, in ms. */
  readonly idleTimeoutMs: number;
  readonly retry: RetryOptions;
  readonly onRetry?: RetryListener;
  readonly onRequestSucceeded?: RequestListener;
  readonly logger: Logger;
}

/**
 * Horizon's ledger stream (server-sent events) as an ordered pull source.
 * Whenever the stream drops, errors, sends an event that is not a ledger, or
 * is paused because the consumer fell behind, it is reopened from the last
 * ledger received (after a backoff, or the server's `Retry-After`), so every
 * ledger arrives once and in order; a gap in sequence numbers fails it.
 *
 * It reads the stream itself rather than through the SDK's `EventSource`:
 * that one throws an event that is not JSON out of its listener (an uncaught
 * exception), drops the status's `Retry-After` and sends none of the
 * configured headers.
 */
export class LedgerStream {
  readonly #o: LedgerStreamOptions;
  readonly #buffer: LedgerInfo[] = [];
  #last: number | null;
  /** The open connection; a stale one's late events and errors are ignored. */
  #connection: AbortController | null = null;
  #paused = false;
  #closed = false;
  #failure: { error: unknown } | null = null;
  #wake: (() => void) | null = null;
  #failures = 0;
  #openedAt = 0;
  #reopenTimer: NodeJS.Timeout | null = null;

  constructor(options: LedgerStreamOptions) {
    this.#o = options;
    this.#last = options.after;
    this.#open();
  }

  /** The next ledger; rejects when the stream failed for good or `signal` aborts. */
  async next(signal: AbortSignal): Promise<LedgerInfo> {
    while (true) {
      signal.throwIfAborted();
      const ledger = this.#buffer.shift();
      if (ledger !== undefined) {
        if (this.#paused && this.#buffer.length <= this.#o.highWater / 2) {
          this.#paused = false;
          this.#open();
        }
        return ledger;
      }
      if (this.#failure) throw this.#failure.error;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        this.#wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    }
  }

  /** Stops streaming and any pending reconnect. */
  close(): void {
    this.#closed = true;
    this.#stopStream();
    if (this.#reopenTimer) clearTimeout(this.#reopenTimer);
    this.#reopenTimer = null;
    this.#notify();
  }

  #open(): void {
    if (this.#closed || this.#connection !== null) return;
    const connection = new AbortController();
    this.#connection = connection;
    // A ledger's paging token is its sequence << 32: the stream resumes right after the last ledger received.
    const cursor = this.#last === null ? "0" : (BigInt(this.#last) << 32n).toString();
    const client = this.#o.client;
    this.#openedAt = performance.now();
    readEventStream({
      url: client.resourceUrl("/ledgers", { cursor, order: "asc" }),
      ...(client.headers ? { headers: client.headers } : {}),
      signal: connection.signal,
      idleTimeoutMs: this.#o.idleTimeoutMs,
      onEvent: (event) => this.#onEvent(connection, event),
    }).then(
      () => this.#onDrop(connection, new Error(`Horizon ${client.url} ended the ledger stream`)),
      (error: unknown) => this.#onDrop(connection, error),
    );
  }

  /** Takes one event; what it throws (an event that is not a ledger) drops the connection. */
  #onEvent(connection: AbortController, event: ServerSentEvent): void {
    if (this.#connection !== connection || event.type !== "message") return; // Horizon's "hello" is an `open` event
    const what = `${this.#o.client.url} ledger stream`;
    let record: unknown;
    try {
      record = JSON.parse(event.data);
    } catch (error) {
      throw new SyntaxError(`Horizon ${what}: an event is not JSON (${(error as Error).message})`);
    }
    const ledger = parseLedger(record, "event", what);
    notifySucceeded(this.#o.onRequestSucceeded, { backend: "horizon", operation: STREAM_OPERATION }, this.#o.logger);
    if (this.#last !== null && ledger.sequence <= this.#last) return; // replayed after a reconnect
    if (this.#last !== null && ledger.sequence !== this.#last + 1) {
      this.#fail(
        new RpcResponseError(
          `Horizon ${this.#o.client.url} ledger stream skipped from ledger ${this.#last} to ${ledger.sequence}: its history has a gap`,
          "sequence",
        ),
      );
      return;
    }
    this.#failures = 0;
    this.#last = ledger.sequence;
    this.#buffer.push(ledger);
    if (this.#buffer.length >= this.#o.highWater) {
      // Let the consumer catch up instead of buffering an unbounded history.
      this.#paused = true;
      this.#stopStream();
    }
    this.#notify();
  }

  #onDrop(connection: AbortController, error: unknown): void {
    if (this.#closed || this.#connection !== connection) return;
    this.#stopStream();
    // A stream that stayed up a while before dropping was working: only quick successive failures add up.
    if (performance.now() - this.#openedAt > STABLE_STREAM_MS) this.#failures = 0;
    this.#failures++;
    const { retry } = this.#o;
    if (this.#failures >= (retry.maxAttempts ?? 6)) {
      this.#fail(
        new KinRpcError(
          `Horizon ${this.#o.client.url} ledger stream failed ${this.#failures} times in a row after ledger ${this.#last ?? "(none)"}: ${describeFailure(error)}`,
          STREAM_OPERATION,
          this.#failures,
          { cause: error },
        ),
      );
      return;
    }
    const backoff = withJitter(
      backoffDelay(this.#failures, { initialMs: retry.initialBackoffMs ?? 250, maxMs: retry.maxBackoffMs ?? 10_000 }),
      0.2,
    );
    const retryAfter = error instanceof HttpStatusError ? (error.retryAfterMs ?? 0) : 0;
    const delayMs = Math.max(backoff, Math.min(retryAfter, retry.maxRetryAfterMs ?? 60_000));
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = null;
      if (!this.#paused) this.#open();
    }, delayMs);
    // Reported once the reopening is scheduled, so a failing log or listener cannot stall the stream.
    const status = error instanceof HttpStatusError ? error.status : undefined;
    const kind = failureKind(error);
    try {
      notifyRetry(
        this.#o.onRetry,
        {
          kind,
          backend: "horizon",
          operation: STREAM_OPERATION,
          attempt: this.#failures,
          delayMs,
          ...retryStatus(status),
          error,
        },
        this.#o.logger,
      );
      this.#o.logger.warn(
        {
          backend: "horizon",
          request: STREAM_OPERATION,
          kind,
          after: this.#last,
          attempt: this.#failures,
          delayMs: Math.round(delayMs),
          status,
          reason: describeFailure(error),
        },
        "Horizon ledger stream dropped; reopening",
      );
    } catch {
      // A logger that throws must not become an unhandled rejection; the reopening is scheduled already.
    }
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
    this.#stopStream();
    this.#notify();
  }

  #stopStream(): void {
    const connection = this.#connection;
    this.#connection = null;
    connection?.abort(new DOMException("ledger stream stopped", "AbortError"));
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

function failureKind(error: unknown): RetryKind {
  if (error instanceof HttpStatusError) return statusKind(error.status);
  if (error instanceof SyntaxError) return "malformed";
  if (error instanceof RpcResponseError) return "invalid";
  if (isTimeout(error)) return "timeout";
  return "network"; // refused, reset, or ended by the server
}

function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.message}${cause}`;
}
