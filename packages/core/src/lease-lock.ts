import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { DeadlineError, sleep, withDeadline } from "./abort.js";
import {
  BackendUnavailableError,
  ConfigurationError,
  CorruptRecordError,
  InvalidArgumentError,
  isTidemarkError,
} from "./errors.js";
import { LeaseHolding, type OwnedLease } from "./lease-holding.js";
import type { LeaseRecord, LeaseRecordStore } from "./lease-record-store.js";
import { type LeaseTimingOptions, type LeaseTimings, resolveLeaseTimings } from "./lease-timings.js";
import type { DistributedLock, LockState } from "./lock.js";

/** The options every lease lock adapter takes besides its connection: one name per concept, in milliseconds. */
export interface LeaseLockOptions extends LeaseTimingOptions {
  /** The lock's name: every node of one fleet uses the same key (e.g. `ingestor_history_kin4`). */
  readonly key: string;
  /**
   * Names this node in the lock record, for operators (default
   * `<hostname>:<pid>`). Each acquisition appends a random suffix, so every
   * holding has an owner id of its own.
   */
  readonly owner?: string;
}

/** Requests on the acquiring path get at least this long: a slow answer there costs a retry, not the lease. */
const MIN_ACQUIRE_DEADLINE_MS = 5000;

/**
 * The lease protocol, written once for every heartbeat lock (memory, SQLite,
 * DynamoDB, MongoDB, PostgreSQL); an adapter supplies only a
 * {@link LeaseRecordStore}.
 *
 * - acquire when the record is absent or released;
 * - otherwise take over only after seeing the same record version unchanged
 *   for the lease written in the record, on this process's monotonic clock
 *   (no wall clocks are compared, so clock skew cannot break exclusion);
 * - renew by a conditional write every heartbeat;
 * - settle a write whose outcome is unknown by reading the record back;
 * - abort `lease.signal` once `leaseMs - safetyMarginMs` passed without a
 *   confirmed renewal;
 * - release conditionally on the owner id, so a stale holder never releases
 *   its successor.
 */
export class LeaseLock<R extends LeaseRecord = LeaseRecord, L extends OwnedLease = OwnedLease>
  implements DistributedLock
{
  readonly key: string;
  /** The node name written into the record (before the per-acquisition suffix). */
  readonly owner: string;
  readonly timings: LeaseTimings;
  readonly #store: LeaseRecordStore<R>;
  readonly #acquireDeadlineMs: number;
  #held: LeaseHolding | null = null;
  /**
   * An owner id of ours that no holding uses any more: a claim whose outcome
   * never became known, or a holding whose release failed. A record still
   * naming it is taken over at once instead of being waited out.
   */
  #abandoned: string | null = null;
  #closed = false;

  constructor(store: LeaseRecordStore<R>, options: LeaseLockOptions, defaultLeaseMs?: number) {
    if (typeof options?.key !== "string" || options.key.length === 0) {
      throw new InvalidArgumentError(`${store.label}: key must be a non-empty string`);
    }
    if (options.owner !== undefined && (typeof options.owner !== "string" || options.owner.length === 0)) {
      throw new InvalidArgumentError(`${store.label}: owner must be a non-empty string`);
    }
    this.#store = store;
    this.key = options.key;
    this.owner = options.owner ?? `${hostname()}:${process.pid}`;
    this.timings = resolveLeaseTimings(store.label, options, defaultLeaseMs);
    this.#acquireDeadlineMs = Math.max(this.timings.requestTimeoutMs, MIN_ACQUIRE_DEADLINE_MS);
  }

  /** performance.now() when the last confirmed renewal (or the acquisition) of the current holding was sent. */
  get lastRenewedAt(): number | null {
    return this.#held?.lastRenewedAt ?? null;
  }

  async lock(signal: AbortSignal): Promise<L> {
    if (!(signal instanceof AbortSignal))
      throw new InvalidArgumentError(`${this.#store.label}: lock() needs an AbortSignal`);
    if (this.#closed) throw new InvalidArgumentError(`${this.#store.label}: lock() after close()`);
    signal.throwIfAborted();
    const held = this.#held;
    if (held !== null && !held.lease.signal.aborted) return held.lease as L;
    // A lost holding may still be named in the record (its renewals only timed out): hand it back first.
    if (held !== null) await this.unlock().catch(() => {});
    let seen: { version: string; at: number } | null = null;
    while (true) {
      signal.throwIfAborted();
      const record = await this.#send("reading", signal, (s) => this.#store.read(s));
      // Timed from when the read returned: the version was written before that, never after.
      const now = performance.now();
      const expired =
        seen !== null && record !== null && seen.version === record.version && now - seen.at >= record.leaseMs;
      const ours = record !== null && record.owner === this.#abandoned;
      if (record === null || record.released || expired || ours) {
        const lease = await this.#take(record, signal);
        if (lease !== null) return lease;
        // Someone else wrote first: time their version afresh.
        seen = null;
        continue;
      }
      if (seen === null || seen.version !== record.version) seen = { version: record.version, at: now };
      const untilExpiry = seen.at + record.leaseMs - performance.now();
      await sleep(Math.max(1, Math.min(this.timings.pollMs, untilExpiry)), signal);
    }
  }

  async unlock(): Promise<void> {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    await held.release();
    // Conditional on the owner id: a stale holder never releases whoever holds the lock now.
    try {
      await this.#send("releasing", undefined, (s) => this.#store.release(held.lease.owner, s));
    } catch (error) {
      this.#abandoned = held.lease.owner;
      throw error;
    }
  }

  async describe(): Promise<LockState | null> {
    const record = await this.#send("reading", undefined, (s) => this.#store.read(s));
    if (record === null || record.released) return null;
    return { key: this.key, owner: record.owner, token: record.token, leaseMs: record.leaseMs, released: false };
  }

  /** Releases what this lock holds and closes what its store opened. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.unlock();
      const abandoned = this.#abandoned;
      if (abandoned !== null) await this.#send("releasing", undefined, (s) => this.#store.release(abandoned, s));
    } finally {
      await this.#store.close?.();
    }
  }

  /**
   * Test hook: freeze the holder as a paused or partitioned process would be:
   * no renewals and no self-expiry, its lease signal untouched. A later
   * `unlock()` still sends its conditional release, as a resumed process would.
   */
  simulateCrash(): void {
    this.#held?.freeze();
  }

  /** Adds adapter-specific fields to a lease (e.g. the table a fence checks). */
  protected extendLease(lease: OwnedLease): L {
    return lease as L;
  }

  /** Writes a holding over `previous` (absent, released or expired). Null when someone else got there first. */
  async #take(previous: R | null, signal: AbortSignal): Promise<L | null> {
    const claim = { owner: `${this.owner}:${randomUUID()}`, version: randomUUID(), leaseMs: this.timings.leaseMs };
    const sentAt = performance.now();
    let token: bigint | null;
    try {
      // Not cut short by `signal`: a write abandoned half-way would leave us not knowing whether we hold the lock.
      const result = await this.#send("acquiring", undefined, (s) => this.#store.claim(previous, claim, s));
      if (result === false) return null;
      token = result.token;
    } catch (error) {
      if (isFinal(error)) throw error;
      // The answer was lost. The owner id is unique, so the record tells whether the write went through.
      this.#abandoned = claim.owner;
      const stored = await this.#send("reading", undefined, (s) => this.#store.read(s)).catch(() => undefined);
      if (stored === undefined) throw error;
      if (stored?.owner !== claim.owner || stored.version !== claim.version) throw error;
      token = stored.token;
    }
    this.#abandoned = null;
    const controller = new AbortController();
    const lease = this.extendLease({ signal: controller.signal, token, owner: claim.owner, key: this.key });
    this.#held = new LeaseHolding({
      store: this.#store,
      lease,
      controller,
      version: claim.version,
      sentAt,
      timings: this.timings,
    });
    if (signal.aborted) {
      // The caller gave up while the write was in flight: hand the lock straight back.
      await this.unlock().catch(() => {});
      throw signal.reason;
    }
    return lease;
  }

  /** One request with a deadline; a missed deadline becomes `BackendUnavailableError` naming the lock. */
  async #send<T>(
    what: string,
    signal: AbortSignal | undefined,
    operation: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    try {
      return await withDeadline(`${what} ${this.#store.label}`, this.#acquireDeadlineMs, signal, operation);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof DeadlineError) throw new BackendUnavailableError(error.message, { cause: error });
      throw error;
    }
  }
}

/** Errors that say the request was refused, not lost: no read-back can change them. */
function isFinal(error: unknown): boolean {
  return (
    isTidemarkError(error, ConfigurationError) ||
    isTidemarkError(error, CorruptRecordError) ||
    isTidemarkError(error, InvalidArgumentError)
  );
}
