import type { ChainState } from "./node-state.js";
import type { FailureStreak } from "./request-health.js";

export interface ReadinessRules {
  /** A leader is ready when its lag is at most this many blocks. */
  readonly readyLag: bigint;
  /** A request failing this many times in a row makes the chain unready. */
  readonly unreadyAfterFailures: number;
  /** The store must have answered a read of the committed pointer within this many ms. */
  readonly storeFreshMs: number;
  readonly now?: number;
}

/** One chain's readiness as `/ready` reports it. */
export interface ChainReadiness {
  readonly chain: string;
  readonly ready: boolean;
  readonly leader: boolean;
  readonly lag: string | null;
  /** The longest current failure streak, if a request is failing. */
  readonly failing?: Omit<FailureStreak, "lastAt">;
  /** Why the chain is not ready. */
  readonly reasons?: readonly string[];
}

/**
 * Whether this node could serve the chain now: its store answered recently,
 * the chain head is known, no request keeps failing, and, when it leads, it
 * has caught up. A standby that meets the rest is ready to take over; whether
 * it leads is `/leader`'s business.
 */
export function chainReadiness(state: ChainState, rules: ReadinessRules): ChainReadiness {
  const now = rules.now ?? performance.now();
  const reasons: string[] = [];
  const streak = state.requests.longest();
  if (!state.finished) {
    if (state.storeReadAt === null) reasons.push("the store has not been read yet");
    else if (now - state.storeReadAt > rules.storeFreshMs) {
      reasons.push(`the store has not answered for ${Math.round((now - state.storeReadAt) / 1000)} s`);
    }
    if (state.headNumber === null) reasons.push("the chain head is not known yet");
    if (streak !== null && streak.failures >= rules.unreadyAfterFailures) {
      reasons.push(`${streak.request} failed ${streak.failures} times in a row (${streak.kind})`);
    }
    const lag = state.lag;
    if (state.leader && lag === null) reasons.push("the lag is not known yet");
    if (state.leader && lag !== null && lag > rules.readyLag) {
      reasons.push(`lag ${lag} blocks exceeds ${rules.readyLag}`);
    }
  }
  return {
    chain: state.chain,
    ready: reasons.length === 0,
    leader: state.leader,
    lag: state.lag?.toString() ?? null,
    ...(streak === null
      ? {}
      : { failing: { request: streak.request, failures: streak.failures, kind: streak.kind, reason: streak.reason } }),
    ...(reasons.length === 0 ? {} : { reasons }),
  };
}
