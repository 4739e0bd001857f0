import { type Pointer, sleep } from "@tidemark/core";
import type { ChainPointers } from "./chain-runtime.js";
import type { ChainState } from "./node-state.js";

export interface HeadPollerOptions {
  /** Polling stops when it aborts. It may live as long as the service, so each poll must leave nothing on it. */
  readonly signal: AbortSignal;
  /** The chain's ingestor; one without `head` is not polled. */
  readonly ingestor: { head?(signal: AbortSignal): Promise<Pointer> };
  readonly pointers: ChainPointers;
  /** Where the head and its block number are kept. */
  readonly state: ChainState;
  /** Told the lag (head minus committed block) after each poll, once both are known. */
  readonly setLag: (lag: number) => void;
  /** Between polls, in ms (default 2000). */
  readonly intervalMs?: number;
}

/** Keeps the chain head and lag current until `signal` aborts; resolves then. */
export async function pollHead(options: HeadPollerOptions): Promise<void> {
  const { signal, ingestor, pointers, state, setLag } = options;
  if (!ingestor.head) return;
  const intervalMs = options.intervalMs ?? 2000;
  while (!signal.aborted) {
    try {
      const head = await ingestor.head(signal);
      state.head = head;
      state.headNumber = pointers.toBlock(head);
      const lag = state.lag;
      if (lag !== null) setLag(Number(lag));
    } catch {
      // Head polling is advisory; the ingestor itself reports chain faults.
    }
    try {
      // sleep removes its abort listener when the timer fires; a listener added per poll
      // and only dropped on abort would pile up on `signal` for as long as the service runs.
      await sleep(intervalMs, signal);
    } catch {
      return;
    }
  }
}
