import { randomUUID } from "node:crypto";
import { sleep } from "../abort.js";
import { InvalidArgumentError } from "../errors.js";
import { LeaseHolding } from "../lease-holding.js";
import type { DistributedLock, Lease, LockState } from "../lock.js";

interface LockRecord {
  owner: string;
  /** Changes on every renewal; a contender takes over only after seeing it unchanged for `leaseMs`. */
  version: string;
  leaseMs: number;
  token: bigint;
  released: boolean;
}

/** Lock records shared by in-memory locks, standing in for a lock table. */
export class MemoryLockServer {
  readonly records = new Map<string, LockRecord>();
  readonly #tokens = new Map<string, bigint>();

  /** Takes the lock away behind its holder's back (an operator deleting the record). */
  revoke(key: string): void {
    this.records.delete(key);
  }

  nextToken(key: string): bigint {
    const token = (this.#tokens.get(key) ?? 0n) + 1n;
    this.#tokens.set(key, token);
    return token;
  }
}

export interface MemoryLockOptions {
  readonly server: MemoryLockServer;
  readonly key: string;
  /** How long a holding lasts without renewal, in ms (default 3000). */
  readonly leaseMs?: number;
  /** Renewal period, in ms (default leaseMs / 3). */
  readonly heartbeatMs?: number;
  /** How often a waiter looks at the record, in ms (default 100). */
  readonly pollMs?: number;
  /** The holder gives up this long before its lease could expire, in ms (default leaseMs / 6). */
  readonly safetyMarginMs?: number;
}

/**
 * A lease lock in process memory that follows the same rule as the DynamoDB
 * lock client: a waiter takes over a held record only after observing its
 * version unchanged for the record's lease duration on its own clock.
 */
export class MemoryLock implements DistributedLock {
  readonly key: string;
  readonly owner = randomUUID();
  readonly #server: MemoryLockServer;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  readonly #pollMs: number;
  readonly #marginMs: number;
  #held: { holding: LeaseHolding; version: string } | null = null;

  constructor(options: MemoryLockOptions) {
    if (!options.key) throw new InvalidArgumentError("memory lock key must be a non-empty string");
    this.#server = options.server;
    this.key = options.key;
    this.#leaseMs = options.leaseMs ?? 3000;
    this.#heartbeatMs = options.heartbeatMs ?? this.#leaseMs / 3;
    this.#pollMs = options.pollMs ?? 100;
    this.#marginMs = options.safetyMarginMs ?? this.#leaseMs / 6;
  }

  /** performance.now() of the last confirmed renewal (or acquisition) of the current holding. */
  get lastRenewedAt(): number | null {
    return this.#held?.holding.lastRenewedAt ?? null;
  }

  async lock(signal: AbortSignal): Promise<Lease> {
    if (this.#held && !this.#held.holding.lease.signal.aborted) return this.#held.holding.lease;
    this.#stop();
    let seen: { version: string; at: number } | null = null;
    while (true) {
      signal.throwIfAborted();
      const record = this.#server.records.get(this.key);
      if (record === undefined || record.released) return this.#take();
      if (seen === null || seen.version !== record.version) {
        seen = { version: record.version, at: performance.now() };
      } else if (performance.now() - seen.at >= record.leaseMs) {
        return this.#take();
      }
      await sleep(this.#pollMs, signal);
    }
  }

  async unlock(): Promise<void> {
    const held = this.#held;
    if (held === null) return;
    const record = this.#server.records.get(this.key);
    if (record && record.owner === this.owner && record.version === held.version) record.released = true;
    this.#stop();
  }

  async describe(): Promise<LockState | null> {
    const record = this.#server.records.get(this.key);
    if (record === undefined || record.released) return null;
    return { key: this.key, owner: record.owner, token: record.token, leaseMs: record.leaseMs, released: false };
  }

  /** Test hook: freeze this holder, as a paused or partitioned process: no renewals, no release, no self-expiry. */
  simulateCrash(): void {
    this.#held?.holding.freeze();
  }

  #take(): Lease {
    const token = this.#server.nextToken(this.key);
    const version = randomUUID();
    this.#server.records.set(this.key, { owner: this.owner, version, leaseMs: this.#leaseMs, token, released: false });
    const held: { version: string; holding: LeaseHolding } = {
      version,
      holding: new LeaseHolding({
        label: `memory lock "${this.key}"`,
        token,
        leaseMs: this.#leaseMs,
        heartbeatMs: this.#heartbeatMs,
        safetyMarginMs: this.#marginMs,
        renew: (): boolean => this.#renew(held),
      }),
    };
    this.#held = held;
    return held.holding.lease;
  }

  #renew(held: { version: string }): boolean {
    const record = this.#server.records.get(this.key);
    if (record === undefined || record.owner !== this.owner || record.version !== held.version || record.released) {
      return false;
    }
    held.version = randomUUID();
    record.version = held.version;
    return true;
  }

  #stop(): void {
    this.#held?.holding.release();
    this.#held = null;
  }
}
