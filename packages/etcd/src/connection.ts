import {
  backoffDelay,
  InvalidArgumentError,
  isTidemarkError,
  raceAbort,
  sleep,
  TidemarkError,
  withJitter,
} from "@tidemark/core";
import { noop } from "cockatiel";
import { Etcd3, type IOptions } from "etcd3";
import {
  classifyFailure,
  configurationError,
  exhaustedError,
  isTlsHandshakeDropped,
  operationError,
} from "./errors.js";
import type { EtcdConnectionOptions } from "./options.js";

/** What one etcd request is sent with. */
export interface CallOptions {
  /** Milliseconds since the epoch, as gRPC takes it. */
  readonly deadline: number;
}

/** A client plus what tidemark needs to call it well and to name it in errors. */
export interface Connection {
  readonly client: Etcd3;
  /** Whether `close()` closes the client (tidemark created it). */
  readonly owned: boolean;
  /** The endpoints, for error messages. */
  readonly endpoints: string;
  readonly retryTimeoutMs: number;
  /** Deadline of one request. */
  readonly requestTimeoutMs: number;
  closed: boolean;
}

/**
 * An `etcd3` client without the library's own retries and circuit breakers,
 * which tidemark replaces: it must know whether a commit may have been applied
 * by an earlier attempt, and a breaker would keep failing calls for seconds
 * after etcd came back. Everything in `options` is passed on.
 */
export function createEtcdClient(options: IOptions): Etcd3 {
  return new Etcd3({
    ...options,
    faultHandling: { host: () => noop, global: noop, ...options.faultHandling },
  });
}

export function openConnection(options: EtcdConnectionOptions, who: string, requestTimeoutMs: number): Connection {
  if ((options.client === undefined) === (options.connection === undefined)) {
    throw new InvalidArgumentError(`${who}: give exactly one of "client" and "connection"`);
  }
  const retryTimeoutMs = positive(options.retryTimeoutMs ?? 10_000, `${who}: retryTimeoutMs`);
  positive(requestTimeoutMs, `${who}: requestTimeoutMs`);
  if (options.client !== undefined) {
    const hosts = (options.client as unknown as { options?: IOptions }).options?.hosts;
    return {
      client: options.client,
      owned: false,
      endpoints: describeHosts(hosts),
      retryTimeoutMs,
      requestTimeoutMs,
      closed: false,
    };
  }
  const connection = options.connection as IOptions;
  if (connection.hosts === undefined || connection.hosts.length === 0) {
    throw new InvalidArgumentError(`${who}: connection.hosts must name at least one endpoint`);
  }
  return {
    client: createEtcdClient(connection),
    owned: true,
    endpoints: describeHosts(connection.hosts),
    retryTimeoutMs,
    requestTimeoutMs,
    closed: false,
  };
}

export function callOptions(connection: Connection): CallOptions {
  return { deadline: Date.now() + connection.requestTimeoutMs };
}

export interface CallHooks<T> {
  /** Called when an attempt failed in a way that may still have been applied (the request may have reached etcd). */
  readonly onUncertainFailure?: () => void;
  /** Called with a result that arrived after `signal` aborted, e.g. to revoke a lease nobody will use. */
  readonly onLateResult?: (value: T) => void;
  /** Overrides the connection's retry budget, in ms. */
  readonly retryTimeoutMs?: number;
  /**
   * For writes: an attempt already sent is awaited even when `signal` aborts
   * (its gRPC deadline bounds the wait), so a write that applied is reported as
   * applied instead of as aborted. Retries and backoff still stop at once.
   */
  readonly finishInFlight?: boolean;
}

/**
 * Runs `attempt` until it succeeds, retrying transient failures with backoff
 * for the connection's retry budget. Errors name the endpoints and `what`.
 * Tidemark errors thrown by `attempt` itself (conflicts, lost leases) pass
 * through untouched.
 */
export async function call<T>(
  connection: Connection,
  what: string,
  attempt: (options: CallOptions) => Promise<T>,
  signal?: AbortSignal,
  hooks: CallHooks<T> = {},
): Promise<T> {
  const started = performance.now();
  const budgetMs = hooks.retryTimeoutMs ?? connection.retryTimeoutMs;
  // A plaintext server resets a TLS client in more than one way; one of them names the handshake.
  let tlsDropped = false;
  for (let attempts = 1; ; attempts++) {
    signal?.throwIfAborted();
    const pending = attempt(callOptions(connection));
    if (signal !== undefined && hooks.onLateResult !== undefined) {
      const onLate = hooks.onLateResult;
      pending.then(
        (value) => {
          if (signal.aborted) onLate(value);
        },
        () => {},
      );
    }
    try {
      return signal === undefined || hooks.finishInFlight ? await pending : await raceAbort(pending, signal);
    } catch (error) {
      // A definite answer (a conflict, a lost lease) beats an abort: it says what happened.
      if (error instanceof TidemarkError || isTidemarkError(error, TidemarkError)) throw error;
      if (signal?.aborted) throw signal.reason;
      const kind = classifyFailure(error);
      if (kind === "configuration") throw configurationError(connection.endpoints, what, error);
      if (kind === "other") throw operationError(connection.endpoints, what, error);
      hooks.onUncertainFailure?.();
      tlsDropped ||= isTlsHandshakeDropped(error);
      const elapsedMs = performance.now() - started;
      const delayMs = withJitter(backoffDelay(attempts, { initialMs: 50, maxMs: 1000 }), 0.2);
      if (elapsedMs + delayMs > budgetMs) {
        throw exhaustedError(connection.endpoints, what, error, attempts, elapsedMs, tlsDropped);
      }
      await sleep(delayMs, signal);
    }
  }
}

/** Closes the client if tidemark created it; idempotent. */
export function closeConnection(connection: Connection): void {
  if (connection.closed) return;
  connection.closed = true;
  if (connection.owned) connection.client.close();
}

function describeHosts(hosts: string | readonly string[] | undefined): string {
  if (hosts === undefined) return "(etcd3 default 127.0.0.1:2379)";
  return typeof hosts === "string" ? hosts : hosts.join(",");
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError(`${what} must be a positive number, got ${value}`);
  return value;
}
