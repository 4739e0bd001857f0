import type { ChainState } from "./node-state.js";

/** Rewrites one terminal line twice a second: committed block, head, lag, blocks/s and transactions/s per chain. */
export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #chains: readonly ChainState[];
  readonly #timer: NodeJS.Timeout;
  #previous: { at: number; blocks: number; transactions: number }[];

  constructor(stream: NodeJS.WriteStream, chains: readonly ChainState[]) {
    this.#stream = stream;
    this.#chains = chains;
    this.#previous = chains.map((c) => ({ at: performance.now(), blocks: c.blocksCommitted, transactions: c.transactionsWritten }));
    this.#timer = setInterval(() => this.#render(), 500);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stream.write("\r\x1b[2K");
  }

  #render(): void {
    const now = performance.now();
    const parts = this.#chains.map((chain, i) => {
      const previous = this.#previous[i] as { at: number; blocks: number; transactions: number };
      const seconds = Math.max(0.001, (now - previous.at) / 1000);
      const blocksPerSecond = (chain.blocksCommitted - previous.blocks) / seconds;
      const txPerSecond = (chain.transactionsWritten - previous.transactions) / seconds;
      this.#previous[i] = { at: now, blocks: chain.blocksCommitted, transactions: chain.transactionsWritten };
      const unit = chain.chain === "kin4" ? "slot" : "ledger";
      return [
        `${chain.chain} ${chain.leader ? "leader" : "standby"}`,
        `${unit} ${chain.committedNumber ?? "-"}`,
        `head ${chain.headNumber ?? "-"}`,
        `lag ${chain.lag ?? "-"}`,
        `${blocksPerSecond.toFixed(1)} blocks/s`,
        `${txPerSecond.toFixed(1)} tx/s`,
      ].join("  ");
    });
    this.#stream.write(`\r\x1b[2K${parts.join("  |  ")}`);
  }
}
