import { InvalidArgumentError } from "./errors.js";

/**
 * The lease options every heartbeat lock of tidemark takes, under the same
 * names and in milliseconds, whatever its backend.
 */
export interface LeaseTimingOptions {
  /**
   * How long a holding lasts without a confirmed renewal. It is written into
   * the lock record: a contender waits out the lease it finds there, not its own.
   */
  readonly leaseMs?: number;
  /** How often the holder renews (default `leaseMs / 3`). */
  readonly heartbeatMs?: number;
  /**
   * The holder aborts `lease.signal` once `leaseMs - safetyMarginMs` has passed
   * without a confirmed renewal, so it stops before any contender can take over
   * (default `leaseMs / 6`). It covers clock-rate drift and the time to stop.
   */
  readonly safetyMarginMs?: number;
  /** How often a waiting `lock()` reads the record (default `min(1000, heartbeatMs / 2)`). */
  readonly pollMs?: number;
  /**
   * Longest wait for one request to the backend before its outcome counts as
   * unknown and is settled by reading the record back (default `heartbeatMs / 2`).
   */
  readonly requestTimeoutMs?: number;
}

/** {@link LeaseTimingOptions} with every default applied and checked. */
export type LeaseTimings = { readonly [K in keyof LeaseTimingOptions]-?: number };

/** The lease of a lock that is given none; adapters whose fleets expect another say so. */
export const DEFAULT_LEASE_MS = 10_000;

/**
 * Applies the defaults shared by every lease lock and rejects settings that
 * cannot work, naming the lock in the error (`subject`, e.g. `sqlite lock "k"`).
 */
export function resolveLeaseTimings(
  subject: string,
  options: LeaseTimingOptions,
  defaultLeaseMs = DEFAULT_LEASE_MS,
): LeaseTimings {
  const leaseMs = check(subject, "leaseMs", options.leaseMs ?? defaultLeaseMs);
  const heartbeatMs = check(subject, "heartbeatMs", options.heartbeatMs ?? leaseMs / 3);
  const safetyMarginMs = check(subject, "safetyMarginMs", options.safetyMarginMs ?? leaseMs / 6, true);
  const pollMs = check(subject, "pollMs", options.pollMs ?? Math.min(1000, heartbeatMs / 2));
  const requestTimeoutMs = check(subject, "requestTimeoutMs", options.requestTimeoutMs ?? heartbeatMs / 2);
  if (heartbeatMs + safetyMarginMs >= leaseMs) {
    throw new InvalidArgumentError(
      `${subject}: heartbeatMs (${heartbeatMs}) + safetyMarginMs (${safetyMarginMs}) must be below leaseMs (${leaseMs}), or the holder gives up before its first renewal`,
    );
  }
  return { leaseMs, heartbeatMs, safetyMarginMs, pollMs, requestTimeoutMs };
}

function check(subject: string, name: string, value: unknown, zeroAllowed = false): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (value === 0 && !zeroAllowed)) {
    const wanted = zeroAllowed ? "a number of milliseconds >= 0" : "a positive number of milliseconds";
    throw new InvalidArgumentError(
      `${subject}: ${name} must be ${wanted}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return value;
}
