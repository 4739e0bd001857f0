import type { Pointer, RunEvent } from "@tidemark/core";

/** What this node knows about one chain, fed by run events and head polling; read by health checks and the status line. */
export class ChainState {
  leader = false;
  committed: Pointer | null = null;
  head: Pointer | null = null;
  lastCommitAt: number | null = null;
  blocksCommitted = 0;
  /** Committed block numbers (slot or ledger), for lag and rates. */
  committedNumber: bigint | null = null;
  headNumber: bigint | null = null;
  transactionsWritten = 0;

  constructor(
    readonly chain: string,
    readonly ingestor: string,
  ) {}

  observe(event: RunEvent): void {
    switch (event.type) {
      case "acquired":
        this.leader = true;
        break;
      case "lost":
      case "released":
        this.leader = false;
        break;
      case "committed":
        this.committed = event.block;
        this.blocksCommitted += event.span;
        this.lastCommitAt = performance.now();
        break;
    }
  }

  /** Blocks between the chain head and the committed pointer, when both are known. */
  get lag(): bigint | null {
    if (this.headNumber === null || this.committedNumber === null) return null;
    const lag = this.headNumber - this.committedNumber;
    return lag < 0n ? 0n : lag;
  }
}
