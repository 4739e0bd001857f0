import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  type DistributedLock,
  InvalidArgumentError,
  type Lease,
  LockLostError,
  type LockState,
  sleep,
} from "@tidemark/core";
import type { Collection } from "mongodb";
import { resolveCollection, type StoredDocument } from "./collection.js";
import { type ConnectPolicy, isDuplicateKey, withConnectRetries } from "./errors.js";
import type { MongoLockOptions } from "./options.js";
import { decodeCounter, decodeLockRecord, type LockRecord, tokenCounterId, toLong } from "./records.js";

export const DEFAULT_LOCK_COLLECTION = "tidemark_locks";

/** A lease of {@link MongoLock}: always carries a fencing token, plus the owner id written in the lease document. */
export interface MongoLease extends Lease {
  readonly token: bigint;
  /** Unique per acquisition; the lease document names it while this holding lasts. */
  readonly owner: string;
  readonly key: string;
}

/** One acquisition, from the conditional write that took the lock until it is released or lost. */
interface Holding {
  readonly lease: MongoLease;
  readonly controller: AbortController;
  /** Aborted to stop the heartbeat (release, loss, simulated crash). */
  readonly stop: AbortController;
  /** Versions sent in renewals not yet confirmed, with when each was sent. */
  readonly pending: Map<string, number>;
  /** performance.now() when the last confirmed write of this holding was sent. */
  renewedAt: number;
  watchdog: NodeJS.Timeout | null;
  crashed: boolean;
}

/**
 * A DistributedLock on MongoDB, following the rule of Amazon's DynamoDB lock
 * client: the holder rewrites a random `version` on every heartbeat, and a
 * contender takes over only after it has seen the same version for the lease
 * duration stored in the document, timed on its own monotonic clock. No node
 * compares its wall clock with another's, so clock skew cannot break
 * exclusivity. Every acquisition takes a token from a per-key counter
 * (an atomic `$inc`), for the committer's fence.
 */
export class MongoLock implements DistributedLock {
  readonly key: string;
  /** `database.collection` of the lease documents. */
  readonly namespace: string;
  readonly #collection: Collection<StoredDocument>;
  readonly #policy: ConnectPolicy;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  readonly #marginMs: number;
  readonly #renewTimeoutMs: number;
  readonly #pollMs: number;
  readonly #ownerName: string;
  #held: Holding | null = null;

  constructor(options: MongoLockOptions) {
    const resolved = resolveCollection(options, options?.collection ?? DEFAULT_LOCK_COLLECTION, "lock");
    if (typeof options.key !== "string" || options.key.length === 0) {
      throw new InvalidArgumentError("mongodb lock: key must be a non-empty string");
    }
    this.key = options.key;
    this.namespace = resolved.namespace;
    this.#collection = resolved.collection;
    this.#policy = resolved.policy;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#heartbeatMs = options.heartbeatMs ?? this.#leaseMs / 4;
    this.#marginMs = options.safetyMarginMs ?? this.#leaseMs / 5;
    this.#renewTimeoutMs = options.renewTimeoutMs ?? this.#heartbeatMs;
    this.#pollMs = options.pollMs ?? Math.min(1000, this.#heartbeatMs);
    this.#ownerName = options.owner ?? `${hostname()}:${process.pid}`;
    this.#checkTimings();
  }

  /** performance.now() when the last confirmed renewal (or the acquisition) of the current holding was sent. */
  get lastRenewedAt(): number | null {
    return this.#held?.renewedAt ?? null;
  }

  async lock(signal: AbortSignal): Promise<MongoLease> {
    if (!(signal instanceof AbortSignal)) throw new InvalidArgumentError("mongodb lock: lock() needs an AbortSignal");
    const held = this.#held;
    if (held !== null && !held.lease.signal.aborted) return held.lease;
    // A lost holding may still be named in the document (its renewals only timed out): hand it back first.
    if (held !== null) await this.unlock().catch(() => {});
    let seen: { version: string; at: number } | null = null;
    while (true) {
      signal.throwIfAborted();
      const record = await this.#read(signal);
      const now = performance.now();
      const expired =
        seen !== null && record !== null && seen.version === record.version && now - seen.at >= record.leaseMs;
      if (record === null || record.released || expired) {
        const lease = await this.#acquire(record, signal);
        if (lease !== null) return lease;
        // Lost the race: someone else just wrote; start timing their version afresh.
        seen = null;
        continue;
      }
      // Timed from when the read returned: the version was written before that, never after.
      if (seen === null || seen.version !== record.version) seen = { version: record.version, at: now };
      const untilExpiry = seen.at + record.leaseMs - now;
      await sleep(Math.max(1, Math.min(this.#pollMs, untilExpiry)), signal);
    }
  }

  async unlock(): Promise<void> {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    this.#stop(held);
    if (!held.controller.signal.aborted) {
      held.controller.abort(new LockLostError(`mongodb lock "${this.key}" in ${this.namespace} released`));
    }
    if (held.crashed) return;
    // Conditional on the owner id: releases only this holding, and a renewal still in flight can no longer match.
    // One try within the renewal timeout: if it fails, the lease simply runs out.
    await this.#withTimeout(`releasing ${this.#where()}`, this.#renewTimeoutMs, undefined, (signal) =>
      withConnectRetries(`releasing ${this.#where()}`, { ...this.#policy, attempts: 1 }, signal, () =>
        this.#collection.updateOne(
          { _id: this.key, owner: held.lease.owner, released: false },
          { $set: { released: true, version: randomUUID(), releasedAt: new Date() } },
        ),
      ),
    );
  }

  async describe(): Promise<LockState | null> {
    const record = await this.#read(undefined);
    if (record === null || record.released) return null;
    return { key: this.key, owner: record.owner, token: record.token, leaseMs: record.leaseMs, released: false };
  }

  /**
   * For tests: freezes this instance as a paused process would be. Renewals
   * and the self-expiry timer stop, the lease signal stays as it is, and
   * `unlock` sends nothing.
   */
  simulateCrash(): void {
    const held = this.#held;
    if (held === null) return;
    held.crashed = true;
    this.#stop(held);
  }

  /** Takes the lock with one conditional write; null when another contender won the race. */
  async #acquire(record: LockRecord | null, signal: AbortSignal): Promise<MongoLease | null> {
    const token = await this.#nextToken(signal);
    const owner = `${this.#ownerName}:${randomUUID()}`;
    const fields = {
      owner,
      version: randomUUID(),
      leaseMs: this.#leaseMs,
      token: toLong(token),
      released: false,
      acquiredAt: new Date(),
      renewedAt: new Date(),
    };
    let sentAt = 0;
    let inFlight: Promise<boolean> | null = null;
    const write = async (): Promise<boolean> => {
      sentAt = performance.now();
      if (record === null) {
        try {
          await this.#collection.insertOne({ _id: this.key, ...fields });
          return true;
        } catch (error) {
          if (isDuplicateKey(error)) return false;
          throw error;
        }
      }
      // Exactly the state this contender observed: any renewal, release or takeover since changed the version.
      const result = await this.#collection.updateOne({ _id: this.key, version: record.version }, { $set: fields });
      return result.matchedCount === 1;
    };
    let won: boolean;
    try {
      won = await withConnectRetries(`acquiring ${this.#where()}`, this.#policy, signal, () => {
        inFlight = write();
        return inFlight;
      });
    } catch (error) {
      // An abort does not stop a write already sent: if it lands, hand the lock straight back.
      const pending = inFlight as Promise<boolean> | null;
      if (signal.aborted && pending !== null) {
        pending.then((took) => (took ? this.#releaseOwner(owner) : undefined)).catch(() => {});
      }
      throw error;
    }
    if (!won) return null;
    return this.#hold(owner, token, sentAt);
  }

  /** The next fencing token of this key: an atomic `$inc` on a counter that outlives the lease documents. */
  async #nextToken(signal: AbortSignal): Promise<bigint> {
    const where = `token counter of lock "${this.key}" in ${this.namespace}`;
    const increment = () =>
      this.#collection.findOneAndUpdate(
        { _id: tokenCounterId(this.key) },
        { $inc: { token: toLong(1n) } },
        { upsert: true, returnDocument: "after" },
      );
    try {
      return decodeCounter(
        await withConnectRetries(`incrementing the ${where}`, this.#policy, signal, increment),
        where,
      );
    } catch (error) {
      // Two first acquisitions creating the counter at once: the loser's increment now finds it.
      if (!isDuplicateKey(error)) throw error;
      return decodeCounter(
        await withConnectRetries(`incrementing the ${where}`, this.#policy, signal, increment),
        where,
      );
    }
  }

  #hold(owner: string, token: bigint, sentAt: number): MongoLease {
    const controller = new AbortController();
    const lease: MongoLease = { signal: controller.signal, token, owner, key: this.key };
    const held: Holding = {
      lease,
      controller,
      stop: new AbortController(),
      pending: new Map(),
      renewedAt: sentAt,
      watchdog: null,
      crashed: false,
    };
    this.#held = held;
    this.#armWatchdog(held);
    void this.#heartbeat(held);
    return lease;
  }

  /** Renews until stopped. A renewal that fails or times out is settled by a read before anything is concluded. */
  async #heartbeat(held: Holding): Promise<void> {
    let delay = this.#heartbeatMs;
    while (true) {
      try {
        await sleep(delay, held.stop.signal);
      } catch {
        return;
      }
      const version = randomUUID();
      held.pending.set(version, performance.now());
      let matched: boolean | null = null;
      try {
        const result = await this.#withTimeout(
          `renewing ${this.#where()}`,
          this.#renewTimeoutMs,
          held.stop.signal,
          (signal) =>
            withConnectRetries(`renewing ${this.#where()}`, this.#policy, signal, () =>
              this.#collection.updateOne(
                { _id: this.key, owner: held.lease.owner, released: false },
                { $set: { version, renewedAt: new Date() } },
              ),
            ),
        );
        matched = result.matchedCount === 1;
      } catch {
        if (held.stop.signal.aborted) return;
      }
      if (matched === true) {
        this.#confirm(held, version);
        delay = this.#heartbeatMs;
        continue;
      }
      if (matched === false) {
        this.#lose(held, "the lease document no longer names this holder (taken over, released or deleted)");
        return;
      }
      // Unknown outcome: the write may have been applied. Read before giving anything up.
      try {
        const record = await this.#withTimeout(
          `reading ${this.#where()}`,
          this.#renewTimeoutMs,
          held.stop.signal,
          (signal) => this.#read(signal),
        );
        if (held.stop.signal.aborted) return;
        if (record === null || record.owner !== held.lease.owner || record.released) {
          this.#lose(held, "the lease document no longer names this holder (taken over, released or deleted)");
          return;
        }
        if (held.pending.has(record.version)) this.#confirm(held, record.version);
      } catch (error) {
        if (held.stop.signal.aborted) return;
        if ((error as Error).name === "CorruptRecordError") {
          this.#lose(held, (error as Error).message);
          return;
        }
      }
      // Try again soon; the watchdog gives up in time if nothing gets through.
      delay = Math.min(this.#heartbeatMs, 100);
    }
  }

  /** A renewal is known to be applied: the lease runs from when it was sent. */
  #confirm(held: Holding, version: string): void {
    if (held.stop.signal.aborted) return;
    const sentAt = held.pending.get(version);
    if (sentAt === undefined) return;
    for (const [other, otherSentAt] of held.pending) if (otherSentAt <= sentAt) held.pending.delete(other);
    if (sentAt > held.renewedAt) held.renewedAt = sentAt;
    this.#armWatchdog(held);
  }

  /** Aborts the lease once `leaseMs - safetyMarginMs` passed since the last confirmed write was sent. */
  #armWatchdog(held: Holding): void {
    if (held.watchdog !== null) clearTimeout(held.watchdog);
    const deadline = held.renewedAt + this.#leaseMs - this.#marginMs;
    held.watchdog = setTimeout(
      () => {
        held.watchdog = null;
        if (performance.now() >= held.renewedAt + this.#leaseMs - this.#marginMs) {
          this.#lose(held, `no renewal confirmed for ${this.#leaseMs - this.#marginMs} ms`);
        } else {
          this.#armWatchdog(held);
        }
      },
      Math.max(1, deadline - performance.now()),
    );
  }

  #lose(held: Holding, why: string): void {
    if (held.stop.signal.aborted) return;
    this.#stop(held);
    held.controller.abort(new LockLostError(`mongodb lock "${this.key}" in ${this.namespace} lost: ${why}`));
  }

  #stop(held: Holding): void {
    held.stop.abort();
    if (held.watchdog !== null) clearTimeout(held.watchdog);
    held.watchdog = null;
  }

  async #releaseOwner(owner: string): Promise<void> {
    await this.#collection.updateOne(
      { _id: this.key, owner, released: false },
      { $set: { released: true, version: randomUUID(), releasedAt: new Date() } },
    );
  }

  async #read(signal: AbortSignal | undefined): Promise<LockRecord | null> {
    const document = await withConnectRetries(`reading ${this.#where()}`, this.#policy, signal, () =>
      this.#collection.findOne({ _id: this.key }, signal ? { signal } : {}),
    );
    return decodeLockRecord(document, this.#where());
  }

  /** Runs `operation` with a signal that aborts after `ms` or with `parent`; leaves no timer behind. */
  async #withTimeout<T>(
    what: string,
    ms: number,
    parent: AbortSignal | undefined,
    operation: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`mongodb: ${what} timed out after ${ms} ms`)), ms);
    const signal = parent ? AbortSignal.any([parent, controller.signal]) : controller.signal;
    try {
      return await operation(signal);
    } finally {
      clearTimeout(timer);
    }
  }

  #where(): string {
    return `lease document "${this.key}" in ${this.namespace}`;
  }

  #checkTimings(): void {
    const positive = {
      leaseMs: this.#leaseMs,
      heartbeatMs: this.#heartbeatMs,
      renewTimeoutMs: this.#renewTimeoutMs,
      pollMs: this.#pollMs,
    };
    for (const [name, value] of Object.entries(positive)) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new InvalidArgumentError(`mongodb lock "${this.key}": ${name} must be a positive number, got ${value}`);
      }
    }
    if (!Number.isFinite(this.#marginMs) || this.#marginMs < 0 || this.#marginMs >= this.#leaseMs) {
      throw new InvalidArgumentError(
        `mongodb lock "${this.key}": safetyMarginMs must be at least 0 and below leaseMs, got ${this.#marginMs}`,
      );
    }
    if (this.#heartbeatMs >= this.#leaseMs - this.#marginMs) {
      throw new InvalidArgumentError(
        `mongodb lock "${this.key}": heartbeatMs (${this.#heartbeatMs}) must be below leaseMs - safetyMarginMs ` +
          `(${this.#leaseMs - this.#marginMs}), or the holder gives up before its first renewal`,
      );
    }
  }
}
