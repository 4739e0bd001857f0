import type { ChainState } from "./node-state.js";
import type { FailureStreak } from "./request-health.js";

/** A failing request as the status line and the progress log show it: `rpc: getBlock(1002) failing ×6 (malformed)`. */
export function describeStreak(streak: FailureStreak): string {
  const source = streak.kind === "store" ? "store" : "rpc";
  return `${source}: ${streak.request} failing ×${streak.failures} (${streak.kind})`;
}

/**
 * Rewrites one terminal line twice a second: committed block, head, lag,
 * blocks/s and transactions/s per chain, then the longest failing request
 * or, when none fails, the kind of the last failure.
 */
export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #chains: readonly ChainState[];
  readonly #timer: NodeJS.Timeout;
  /** Recent samples per chain; rates are taken over the last five seconds so they do not jump block by block. */
  #samples: { at: number; blocks: number; transactions: number }[][];

  constructor(stream: NodeJS.WriteStream, chains: readonly ChainState[]) {
    this.#stream = stream;
    this.#chains = chains;
    this.#samples = chains.map((c) => [
      { at: performance.now(), blocks: c.blocksCommitted, transactions: c.transactionsWritten },
    ]);
    this.#timer = setInterval(() => this.#render(), 500);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stream.write("\r\x1b[2K");
  }

  #render(): void {
    const now = performance.now();
    const parts = this.#chains.map((chain, i) => {
      const samples = this.#samples[i] as { at: number; blocks: number; transactions: number }[];
      samples.push({ at: now, blocks: chain.blocksCommitted, transactions: chain.transactionsWritten });
      while (samples.length > 2 && now - (samples[0]?.at ?? now) > 5000) samples.shift();
      const oldest = samples[0] as { at: number; blocks: number; transactions: number };
      const seconds = Math.max(0.001, (now - oldest.at) / 1000);
      const blocksPerSecond = (chain.blocksCommitted - oldest.blocks) / seconds;
      const txPerSecond = (chain.transactionsWritten - oldest.transactions) / seconds;
      const unit = chain.chain === "kin4" ? "slot" : "ledger";
      const streak = chain.requests.longest();
      const lastKind = chain.requests.lastKind;
      return [
        `${chain.chain} ${chain.leader ? "leader" : "standby"}`,
        `${unit} ${chain.committedNumber ?? "-"}`,
        `head ${chain.headNumber ?? "-"}`,
        `lag ${chain.lag ?? "-"}`,
        `${blocksPerSecond.toFixed(1)} blocks/s`,
        `${txPerSecond.toFixed(1)} tx/s`,
        ...(streak ? [describeStreak(streak)] : lastKind ? [`last error: ${lastKind}`] : []),
      ].join("  ");
    });
    this.#stream.write(`\r\x1b[2K${parts.join("  |  ")}`);
  }
}
