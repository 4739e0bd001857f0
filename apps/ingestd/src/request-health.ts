import type { RetryInfo } from "@tidemark/kin";

/** What kind of failure a request met: a chain request's retry kind, or `store` for a read of the committed pointer. */
export type FailureKind = RetryInfo["kind"] | "store";

/** A request that keeps failing: how often in a row, and how it failed last. */
export interface FailureStreak {
  /** The request as the ingestor names it, e.g. `getBlock(1002)`, or `committer.latest(history_KIN4)`. */
  readonly request: string;
  /** Failures in a row, across retries and restarts of the same request. */
  readonly failures: number;
  readonly kind: FailureKind;
  /** The last failure's message, with credentials removed. */
  readonly reason: string;
  /** When it last failed (`performance.now()`). */
  readonly lastAt: number;
}

export interface RequestHealthOptions {
  /** Most requests remembered at once; the one that failed longest ago is forgotten first (default 64). */
  readonly maxTracked?: number;
  /**
   * A streak with no new failure for this long is forgotten, in ms (default 120 000):
   * a request that keeps failing is retried at least every ~70 s (backoff capped at 10 s,
   * `Retry-After` at 60 s), while one the ingestor stopped sending never succeeds to clear it.
   */
  readonly staleMs?: number;
  readonly now?: () => number;
}

/**
 * Consecutive failures per request of one chain. A request's streak grows
 * with each failure and ends when that same request succeeds, so a node
 * stuck on one block is told apart from one whose requests fail now and then.
 */
export class RequestHealth {
  readonly #streaks = new Map<string, FailureStreak>();
  readonly #maxTracked: number;
  readonly #staleMs: number;
  readonly #now: () => number;
  #lastKind: FailureKind | null = null;

  constructor(options: RequestHealthOptions = {}) {
    this.#maxTracked = Math.max(1, options.maxTracked ?? 64);
    this.#staleMs = options.staleMs ?? 120_000;
    this.#now = options.now ?? (() => performance.now());
  }

  failed(request: string, kind: FailureKind, reason: string): FailureStreak {
    const previous = this.#streaks.get(request);
    const streak = { request, failures: (previous?.failures ?? 0) + 1, kind, reason, lastAt: this.#now() };
    // Re-inserted so the map stays ordered by last failure, oldest first: that one is evicted at the cap.
    this.#streaks.delete(request);
    this.#prune();
    while (this.#streaks.size >= this.#maxTracked) {
      const oldest = this.#streaks.keys().next().value as string;
      this.#streaks.delete(oldest);
    }
    this.#streaks.set(request, streak);
    this.#lastKind = kind;
    return streak;
  }

  succeeded(request: string): void {
    this.#streaks.delete(request);
  }

  /** The kind of the most recent failure of any request, even one since cleared; null when none failed yet. */
  get lastKind(): FailureKind | null {
    return this.#lastKind;
  }

  /** Requests currently remembered as failing. */
  get size(): number {
    this.#prune();
    return this.#streaks.size;
  }

  /** The longest current streak (the most recent among equals), optionally only among some kinds; null when nothing fails. */
  longest(include: (kind: FailureKind) => boolean = () => true): FailureStreak | null {
    this.#prune();
    let longest: FailureStreak | null = null;
    for (const streak of this.#streaks.values()) {
      if (include(streak.kind) && (longest === null || streak.failures >= longest.failures)) longest = streak;
    }
    return longest;
  }

  #prune(): void {
    const limit = this.#now() - this.#staleMs;
    for (const [request, streak] of this.#streaks) {
      // Ordered by last failure: the first fresh one ends the stale prefix.
      if (streak.lastAt > limit) break;
      this.#streaks.delete(request);
    }
  }
}
