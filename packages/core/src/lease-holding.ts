import { randomUUID } from "node:crypto";
import { withDeadline } from "./abort.js";
import { CorruptRecordError, isTidemarkError, LockLostError } from "./errors.js";
import type { LeaseRecord, LeaseRecordStore } from "./lease-record-store.js";
import type { LeaseTimings } from "./lease-timings.js";
import type { Lease } from "./lock.js";

/** The lease a lease lock hands out: who holds it, for which key, with which token. */
export interface OwnedLease extends Lease {
  /** The owner id of this holding, unique per acquisition; the lock record names it while the holding lasts. */
  readonly owner: string;
  readonly key: string;
}

export interface LeaseHoldingSettings {
  readonly store: LeaseRecordStore<LeaseRecord>;
  readonly lease: OwnedLease;
  readonly controller: AbortController;
  /** The version the acquisition wrote. */
  readonly version: string;
  /** performance.now() when the acquiring write was sent: the lease counts from there. */
  readonly sentAt: number;
  readonly timings: LeaseTimings;
}

/**
 * The holder's side of one acquisition: renews every heartbeat, settles a
 * renewal whose outcome is unknown by reading the record back, and aborts the
 * lease as soon as the lock is known lost, or once `leaseMs - safetyMarginMs`
 * passed since the last confirmed renewal was sent (a contender may take over
 * at `leaseMs`, so the holder stops first).
 */
export class LeaseHolding {
  readonly lease: OwnedLease;
  readonly #settings: LeaseHoldingSettings;
  /** The version last confirmed stored. */
  #version: string;
  /** performance.now() when the write behind `#version` was sent. */
  #confirmedAt: number;
  /** Versions sent and not yet settled, with their send times: any of them may be what is stored. */
  readonly #tried = new Map<string, number>();
  readonly #stop = new AbortController();
  #heartbeat: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | null = null;
  #frozen = false;

  constructor(settings: LeaseHoldingSettings) {
    this.#settings = settings;
    this.lease = settings.lease;
    this.#version = settings.version;
    this.#confirmedAt = settings.sentAt;
    this.#tried.set(settings.version, settings.sentAt);
    this.#armWatchdog();
    this.#schedule(settings.timings.heartbeatMs);
  }

  /** performance.now() when the last confirmed renewal (or the acquisition) was sent. */
  get lastRenewedAt(): number {
    return this.#confirmedAt;
  }

  /** Stops renewing and aborts the lease as released; resolves once no renewal is in flight. */
  async release(): Promise<void> {
    this.#halt();
    this.#abort("released");
    await this.#inflight;
  }

  /** Stops every timer and ignores any answer still to come, aborting nothing: a paused process, seen from outside. */
  freeze(): void {
    this.#frozen = true;
    this.#halt();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#heartbeat = setTimeout(() => {
      this.#inflight = this.#beat().finally(() => {
        this.#inflight = null;
      });
    }, delayMs);
  }

  get #stopped(): boolean {
    return this.#frozen || this.#stop.signal.aborted;
  }

  async #beat(): Promise<void> {
    const { store, timings, lease } = this.#settings;
    const next = randomUUID();
    const sentAt = performance.now();
    this.#tried.set(next, sentAt);
    let applied: boolean | undefined;
    try {
      applied = await withDeadline(`renewing ${store.label}`, timings.requestTimeoutMs, this.#stop.signal, (signal) =>
        store.renew(lease.owner, this.#version, next, signal),
      );
    } catch {
      // Unknown outcome: it may have been applied. Only the record can tell.
    }
    if (this.#stopped) return;
    let healthy = applied === true;
    if (healthy) this.#confirm(next, sentAt);
    else healthy = await this.#settle();
    // After a failure, try again soon: the watchdog, not this loop, decides when the lease is gone.
    this.#schedule(healthy ? timings.heartbeatMs : Math.max(20, timings.heartbeatMs / 4));
  }

  /** Reads the record after a renewal that was refused or whose outcome is unknown. True when a renewal is confirmed. */
  async #settle(): Promise<boolean> {
    const { store, timings, lease } = this.#settings;
    let record: LeaseRecord | null;
    try {
      record = await withDeadline(`reading ${store.label}`, timings.requestTimeoutMs, this.#stop.signal, (signal) =>
        store.read(signal),
      );
    } catch (error) {
      if (isTidemarkError(error, CorruptRecordError) && !this.#stopped) {
        this.#lose(`its record was overwritten with one tidemark cannot read (${(error as Error).message})`);
      }
      return false;
    }
    if (this.#stopped) return false;
    const sentAt = record === null ? undefined : this.#tried.get(record.version);
    if (record !== null && !record.released && record.owner === lease.owner && sentAt !== undefined) {
      if (record.version === this.#version) return false;
      this.#confirm(record.version, sentAt);
      return true;
    }
    this.#lose(
      record === null
        ? "its record was removed"
        : record.released
          ? "its record was marked released"
          : record.owner !== lease.owner
            ? `"${record.owner}" took it over`
            : "its record was rewritten by someone else",
    );
    return false;
  }

  #confirm(version: string, sentAt: number): void {
    this.#version = version;
    this.#confirmedAt = Math.max(this.#confirmedAt, sentAt);
    // Older attempts were conditional on versions no longer stored: they can never apply now.
    this.#tried.clear();
    this.#tried.set(version, sentAt);
    this.#armWatchdog();
  }

  #armWatchdog(): void {
    clearTimeout(this.#watchdog);
    const { leaseMs, safetyMarginMs } = this.#settings.timings;
    const deadline = this.#confirmedAt + leaseMs - safetyMarginMs;
    this.#watchdog = setTimeout(
      () => {
        if (this.#stopped) return;
        if (performance.now() >= deadline) {
          this.#lose(`no renewal was confirmed for ${Math.round(performance.now() - this.#confirmedAt)} ms`);
        } else {
          this.#armWatchdog();
        }
      },
      Math.max(1, deadline - performance.now()),
    );
  }

  #lose(why: string): void {
    this.#halt();
    this.#abort(`lost: ${why}`);
  }

  #halt(): void {
    clearTimeout(this.#heartbeat);
    clearTimeout(this.#watchdog);
    if (!this.#stop.signal.aborted) this.#stop.abort();
  }

  #abort(why: string): void {
    const { controller, store } = this.#settings;
    if (!controller.signal.aborted) controller.abort(new LockLostError(`${store.label} ${why}`));
  }
}
