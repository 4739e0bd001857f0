import type { Pointer, RunEvent } from "@tidemark/core";
import { RequestHealth } from "./request-health.js";

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
  /** Failing chain requests and store reads, for readiness and the status line. */
  readonly requests = new RequestHealth();
  /** When the committed pointer was last read from the store (`performance.now()`); null before the first read. */
  storeReadAt: number | null = null;
  /** The chain's run ended at `--until`: nothing more to catch up with. */
  finished = false;

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

  /**
   * The committed block as read from the store. A leader keeps its own
   * (newer) count from its commits, unless the store is ahead of it; a
   * standby learns the pointer only this way.
   */
  storeCommitted(block: bigint | null): void {
    if (block === null) return;
    if (!this.leader || this.committedNumber === null || block > this.committedNumber) this.committedNumber = block;
  }

  /** Blocks between the chain head and the committed pointer, when both are known. */
  get lag(): bigint | null {
    if (this.headNumber === null || this.committedNumber === null) return null;
    const lag = this.headNumber - this.committedNumber;
    return lag < 0n ? 0n : lag;
  }
}
