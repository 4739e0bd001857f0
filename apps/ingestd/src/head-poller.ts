import { type Pointer, sleep, withDeadline } from "@tidemark/core";
import type { ChainPointers } from "./chain-runtime.js";
import type { ChainState } from "./node-state.js";

export interface HeadPollerOptions {
  /** Polling stops when it aborts. It may live as long as the service, so each poll must leave nothing on it. */
  readonly signal: AbortSignal;
  /** The chain's ingestor; one without `head` is not polled for it. */
  readonly ingestor: { head?(signal: AbortSignal): Promise<Pointer> };
  readonly pointers: ChainPointers;
  /** Where the head, the committed block, their block numbers and failing store reads are kept. */
  readonly state: ChainState;
  /** Told the lag (head minus committed block) after each poll, once both are known. */
  readonly setLag: (lag: number) => void;
  /**
   * Reads the committed pointer from the store (the committer's `latest`).
   * Polled too, so a standby knows its lag and that its store answers.
   */
  readonly readCommitted?: (signal: AbortSignal) => Promise<Pointer | null>;
  /** A store read's failure as shown in health and status (credentials removed); default: its message. */
  readonly describeFailure?: (error: unknown) => string;
  /** Between polls, in ms (default 2000). */
  readonly intervalMs?: number;
  /** A store read that takes longer fails, in ms (default 5000). */
  readonly storeTimeoutMs?: number;
}

/** Keeps the chain head, the committed block and the lag current until `signal` aborts; resolves then. */
export async function pollHead(options: HeadPollerOptions): Promise<void> {
  // Two loops, so a head request that retries for a minute does not make the store look silent, nor the reverse.
  await Promise.all([pollChainHead(options), pollCommitted(options)]);
}

async function pollChainHead(options: HeadPollerOptions): Promise<void> {
  const { signal, ingestor, pointers, state } = options;
  if (!ingestor.head) return;
  await every(options, async () => {
    try {
      const head = await ingestor.head?.(signal);
      if (head === undefined) return;
      state.head = head;
      state.headNumber = pointers.toBlock(head);
      reportLag(options);
    } catch {
      // The ingestor reports its failing requests itself (onRetry), by request and kind.
    }
  });
}

async function pollCommitted(options: HeadPollerOptions): Promise<void> {
  const { signal, pointers, state, readCommitted } = options;
  if (!readCommitted) return;
  const request = `committer.latest(${pointers.ingestorName})`;
  const describe = options.describeFailure ?? ((error: unknown) => String((error as Error)?.message ?? error));
  await every(options, async () => {
    try {
      const pointer = await withDeadline(request, options.storeTimeoutMs ?? 5000, signal, (readSignal) =>
        readCommitted(readSignal),
      );
      state.storeReadAt = performance.now();
      state.requests.succeeded(request);
      state.storeCommitted(pointer === null ? null : pointers.toBlock(pointer));
      reportLag(options);
    } catch (error) {
      if (signal.aborted) return;
      state.requests.failed(request, "store", describe(error));
    }
  });
}

function reportLag({ state, setLag }: HeadPollerOptions): void {
  const lag = state.lag;
  if (lag !== null) setLag(Number(lag));
}

/** Runs `poll`, then waits `intervalMs`, until `signal` aborts. */
async function every(options: HeadPollerOptions, poll: () => Promise<void>): Promise<void> {
  const { signal } = options;
  const intervalMs = options.intervalMs ?? 2000;
  while (!signal.aborted) {
    await poll();
    try {
      // sleep removes its abort listener when the timer fires; a listener added per poll
      // and only dropped on abort would pile up on `signal` for as long as the service runs.
      await sleep(intervalMs, signal);
    } catch {
      return;
    }
  }
}
