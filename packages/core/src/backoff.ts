export interface BackoffOptions {
  /** Delay after the first failure, in ms. */
  readonly initialMs: number;
  /** Upper bound of the delay, in ms. */
  readonly maxMs: number;
}

/** Binary exponential backoff: `initial * 2^(attempt-1)`, capped at `max`. `attempt` counts from 1. */
export function backoffDelay(attempt: number, { initialMs, maxMs }: BackoffOptions): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(maxMs, initialMs * 2 ** exponent);
}

/** Spreads `ms` uniformly by ±`fraction` so a fleet does not retry in lockstep. */
export function withJitter(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.max(0, ms * (1 + fraction * (2 * random() - 1)));
}
