import { LockLostError } from "./errors.js";
import type { Lease } from "./lock.js";

export interface LeaseHoldingOptions {
  /** Names the lock in errors, e.g. `sqlite lock "ingestor_history_kin4"`. */
  readonly label: string;
  readonly token: bigint | null;
  /** How long the holding lasts without renewal, in ms. */
  readonly leaseMs: number;
  /** Renewal period, in ms. */
  readonly heartbeatMs: number;
  /** The holder gives up this long before its lease could expire, in ms. */
  readonly safetyMarginMs: number;
  /**
   * Renews the holding once: `true` when the backend confirmed it, `false` when
   * the record shows the lock was taken or removed (lost at once). Throw when
   * the outcome is unknown; the watchdog then decides.
   */
  readonly renew: () => boolean | Promise<boolean>;
}

/**
 * The holder's side of a lease lock: renews every heartbeat and aborts
 * `lease.signal` as soon as the lock is known lost, or once it has gone
 * `lease - margin` without a confirmed renewal (a waiter may take over at
 * `lease`, so the holder stops first). Lock implementations own the
 * acquisition and the record; this owns the timers.
 */
export class LeaseHolding {
  readonly lease: Lease;
  /** performance.now() when the last confirmed renewal (or the acquisition) was sent. */
  lastRenewedAt = performance.now();
  readonly #options: LeaseHoldingOptions;
  readonly #controller = new AbortController();
  readonly #timers: NodeJS.Timeout[];
  #renewing = false;

  constructor(options: LeaseHoldingOptions) {
    this.#options = options;
    this.lease = { signal: this.#controller.signal, token: options.token };
    const limit = options.leaseMs - options.safetyMarginMs;
    this.#timers = [
      setInterval(() => void this.#heartbeat(), options.heartbeatMs),
      setInterval(
        () => {
          if (performance.now() - this.lastRenewedAt >= limit) {
            this.lose("no confirmed renewal within the lease minus the safety margin");
          }
        },
        Math.max(10, options.safetyMarginMs / 2),
      ),
    ];
  }

  /** The lock is gone: stop renewing and abort the lease. */
  lose(why: string): void {
    this.freeze();
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(new LockLostError(`${this.#options.label} lost: ${why}`));
    }
  }

  /** The holder let go: stop renewing; the lease aborts as released. */
  release(): void {
    this.freeze();
    if (!this.#controller.signal.aborted) this.#controller.abort(new LockLostError(`${this.#options.label} released`));
  }

  /** Stops every timer without aborting anything: what a paused process looks like from outside. */
  freeze(): void {
    for (const timer of this.#timers) clearInterval(timer);
  }

  async #heartbeat(): Promise<void> {
    if (this.#renewing || this.#controller.signal.aborted) return;
    this.#renewing = true;
    const sentAt = performance.now();
    try {
      if (await this.#options.renew()) this.lastRenewedAt = sentAt;
      else this.lose("the lock record was taken over or removed");
    } catch {
      // Unknown outcome (a busy or unreachable backend) is not a lost lock; the watchdog decides.
    } finally {
      this.#renewing = false;
    }
  }
}
