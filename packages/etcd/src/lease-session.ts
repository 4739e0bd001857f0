import { type LeaseTimings, LockLostError } from "@tidemark/core";
import { type Connection, call } from "./connection.js";
import { isLeaseNotFound } from "./errors.js";
import { keepAliveOnce } from "./streams.js";

/** etcd grants leases in whole seconds: the TTL asked for a lease of `leaseMs` (etcd may grant more). */
export function ttlSecondsFor(leaseMs: number): number {
  return Math.max(1, Math.ceil(leaseMs / 1000));
}

/**
 * One etcd lease, kept alive every `heartbeatMs` by its own timer. It counts
 * as lost (its signal aborts) when etcd says the lease is gone, or when
 * `leaseMs - safetyMarginMs` passed without a successful keep-alive: etcd
 * expires it no earlier than its granted TTL (at least `leaseMs`) after the
 * last keep-alive it saw, so the holder stops before anyone else can hold.
 */
export class LeaseSession {
  readonly id: string;
  /** The TTL etcd granted, in ms: at least `timings.leaseMs`. */
  readonly grantedMs: number;
  readonly timings: LeaseTimings;
  readonly #connection: Connection;
  readonly #lost = new AbortController();
  /** performance.now() when the last successful keep-alive (or the grant) was sent: etcd renewed no earlier. */
  #renewedAt: number;
  #ticker: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #inFlight: { cancel(): void } | null = null;
  #running = false;

  private constructor(connection: Connection, id: string, grantedMs: number, sentAt: number, timings: LeaseTimings) {
    this.#connection = connection;
    this.id = id;
    this.grantedMs = grantedMs;
    this.timings = timings;
    this.#renewedAt = sentAt;
  }

  /** Grants a lease; one granted after `signal` aborted is revoked again. */
  static async grant(
    connection: Connection,
    timings: LeaseTimings,
    signal: AbortSignal,
    what: string,
  ): Promise<LeaseSession> {
    const ttlSeconds = ttlSecondsFor(timings.leaseMs);
    let sentAt = performance.now();
    const response = await call(
      connection,
      `${what}: granting a ${ttlSeconds} s lease`,
      (options) => {
        sentAt = performance.now();
        return connection.client.leaseClient.leaseGrant({ TTL: ttlSeconds }, options);
      },
      signal,
      {
        onLateResult: (late) => {
          connection.client.leaseClient.leaseRevoke({ ID: late.ID }).catch(() => {});
        },
      },
    );
    if (response.error) throw new Error(`${what}: etcd refused the lease: ${response.error}`);
    return new LeaseSession(connection, response.ID, Number(response.TTL) * 1000, sentAt, timings);
  }

  /** Aborts when the lease must be considered lost. */
  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  get lastRenewedAt(): number {
    return this.#renewedAt;
  }

  /** The lease id as etcd's Go client writes it in keys. */
  get hexId(): string {
    return BigInt(this.id).toString(16);
  }

  start(): void {
    if (this.#running || this.#lost.signal.aborted) return;
    this.#running = true;
    this.#ticker = setInterval(() => this.#renew(), this.timings.heartbeatMs);
    this.#armWatchdog();
  }

  /** Stops keep-alives and the watchdog without declaring anything: a frozen or finished holder. */
  stop(): void {
    this.#running = false;
    if (this.#ticker !== null) clearInterval(this.#ticker);
    if (this.#watchdog !== null) clearTimeout(this.#watchdog);
    this.#ticker = this.#watchdog = null;
    this.#inFlight?.cancel();
    this.#inFlight = null;
  }

  /** Declares the lease lost: stops everything and aborts the signal with `reason`. */
  lose(reason: LockLostError): void {
    this.stop();
    if (!this.#lost.signal.aborted) this.#lost.abort(reason);
  }

  /** Revokes the lease, deleting its keys; a lease already gone counts as revoked. */
  async revoke(what: string, retryTimeoutMs?: number): Promise<void> {
    this.stop();
    try {
      await call(
        this.#connection,
        `${what}: revoking lease ${this.hexId}`,
        (options) => this.#connection.client.leaseClient.leaseRevoke({ ID: this.id }, options),
        undefined,
        retryTimeoutMs === undefined ? {} : { retryTimeoutMs },
      );
    } catch (error) {
      if (!isLeaseNotFound(error) && !isLeaseNotFound((error as Error).cause)) throw error;
    }
  }

  #renew(): void {
    if (!this.#running || this.#inFlight !== null) return;
    const sentAt = performance.now();
    const attempt = keepAliveOnce(this.#connection, this.id, this.timings.requestTimeoutMs);
    this.#inFlight = attempt;
    attempt.response.then(
      (answer) => {
        if (this.#inFlight === attempt) this.#inFlight = null;
        if (!this.#running) return;
        if (Number(answer.TTL) <= 0) {
          this.lose(this.#lostError("etcd reports it expired or revoked"));
        } else if (sentAt > this.#renewedAt) {
          this.#renewedAt = sentAt;
        }
      },
      () => {
        // The watchdog decides when missed keep-alives mean the lease is lost.
        if (this.#inFlight === attempt) this.#inFlight = null;
      },
    );
  }

  #armWatchdog(): void {
    const limitMs = this.timings.leaseMs - this.timings.safetyMarginMs;
    const deadline = this.#renewedAt + limitMs;
    this.#watchdog = setTimeout(
      () => {
        this.#watchdog = null;
        if (!this.#running) return;
        const silentMs = performance.now() - this.#renewedAt;
        if (silentMs >= limitMs) {
          this.lose(
            this.#lostError(
              `no successful keep-alive for ${Math.round(silentMs)} ms (lease ${this.timings.leaseMs} ms)`,
            ),
          );
        } else {
          this.#armWatchdog();
        }
      },
      Math.max(0, deadline - performance.now()) + 1,
    );
  }

  #lostError(why: string): LockLostError {
    return new LockLostError(`etcd ${this.#connection.endpoints}: lease ${this.hexId} lost: ${why}`);
  }
}
