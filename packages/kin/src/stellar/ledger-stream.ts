import { backoffDelay, type Logger, withJitter } from "@tidemark/core";
import { KinRpcError, RpcResponseError } from "../errors.js";
import type { RetryOptions } from "../retry.js";
import { notifyRetry, type RetryListener, retryStatus } from "../retry-listener.js";
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
  readonly logger: Logger;
}

/**
 * Horizon's ledger stream (server-sent events through the SDK) as an ordered
 * pull source. Whenever the stream drops, errors or is paused because the
 * consumer fell behind, it is reopened from the last ledger received, so
 * every ledger arrives once and in order; a gap in sequence numbers fails it.
 */
export class LedgerStream {
  readonly #o: LedgerStreamOptions;
  readonly #buffer: LedgerInfo[] = [];
  #last: number | null;
  #close: (() => void) | null = null;
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
    if (this.#closed || this.#close !== null) return;
    // A ledger's paging token is its sequence << 32: the stream resumes right after the last ledger received.
    const cursor = this.#last === null ? "0" : (BigInt(this.#last) << 32n).toString();
    const builder = this.#o.client.server().ledgers().cursor(cursor).order("asc");
    this.#openedAt = performance.now();
    this.#close = builder.stream({
      onmessage: (record) => this.#onRecord(record),
      onerror: (event) => this.#onError(event),
      reconnectTimeout: this.#o.idleTimeoutMs,
    });
  }

  #onRecord(record: unknown): void {
    if (this.#closed || this.#close === null) return;
    let ledger: LedgerInfo;
    try {
      ledger = parseLedger(record, "event", `${this.#o.client.url} ledger stream`);
    } catch (error) {
      this.#onError(error);
      return;
    }
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

  #onError(error: unknown): void {
    if (this.#closed || this.#close === null) return;
    this.#stopStream();
    // A stream that stayed up a while before dropping was working: only quick successive failures add up.
    if (performance.now() - this.#openedAt > STABLE_STREAM_MS) this.#failures = 0;
    this.#failures++;
    const maxAttempts = this.#o.retry.maxAttempts ?? 6;
    if (this.#failures >= maxAttempts) {
      this.#fail(
        new KinRpcError(
          `Horizon ${this.#o.client.url} ledger stream failed ${this.#failures} times in a row after ledger ${this.#last ?? "(none)"}: ${describeEvent(error)}`,
          STREAM_OPERATION,
          this.#failures,
          { cause: error },
        ),
      );
      return;
    }
    const delayMs = withJitter(
      backoffDelay(this.#failures, {
        initialMs: this.#o.retry.initialBackoffMs ?? 250,
        maxMs: this.#o.retry.maxBackoffMs ?? 10_000,
      }),
      0.2,
    );
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = null;
      if (!this.#paused) this.#open();
    }, delayMs);
    // Reported once the reopening is scheduled, so a failing log or listener cannot stall the stream.
    notifyRetry(
      this.#o.onRetry,
      {
        backend: "horizon",
        operation: STREAM_OPERATION,
        attempt: this.#failures,
        delayMs,
        ...retryStatus(eventStatus(error)),
        error,
      },
      this.#o.logger,
    );
    this.#o.logger.warn(
      { backend: "horizon", after: this.#last, attempt: this.#failures, delayMs, err: error },
      "Horizon ledger stream dropped; reopening",
    );
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
    this.#stopStream();
    this.#notify();
  }

  #stopStream(): void {
    const close = this.#close;
    this.#close = null;
    close?.();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** The HTTP status an SDK stream error event carries (its `code`), if any. */
function eventStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "number" && code >= 100 && code <= 599 ? code : undefined;
}

function describeEvent(error: unknown): string {
  if (error instanceof Error) return error.message;
  const message = (error as { message?: unknown })?.message;
  const code = (error as { code?: unknown })?.code;
  if (typeof message === "string") return code === undefined ? message : `${message} (HTTP ${String(code)})`;
  return String(error);
}
