import { type Committer, type HistoryReader, withDeadline } from "@tidemark/core";
import type { ChainPointers } from "./chain-runtime.js";
import { failureReason, type Redaction } from "./failure-reason.js";
import type { ReadyReport } from "./health-server.js";

/** One chain `serve` answers for. */
export interface ServedChain {
  readonly pointers: ChainPointers;
  readonly reader: HistoryReader<unknown>;
}

export interface HistoryReadinessOptions {
  readonly chains: readonly ServedChain[];
  /** The commit store, whose pointers bound what the history shows. */
  readonly committer: Committer;
  /** A check that has not answered within this many ms counts as failed (default 5000). */
  readonly timeoutMs?: number;
  /** The configured store URLs, never shown in a reason. */
  readonly redactions: readonly Redaction[];
}

/**
 * `/ready` for `serve`: ready when, for every chain, the commit store returns
 * the committed pointer and the history store answers a lookup, each within
 * the timeout. Concurrent probes share one check.
 */
export function historyReadiness(options: HistoryReadinessOptions): () => Promise<ReadyReport> {
  const timeoutMs = options.timeoutMs ?? 5000;
  let running: Promise<ReadyReport> | null = null;
  const check = async (): Promise<ReadyReport> => {
    const chains = await Promise.all(
      options.chains.map(async ({ pointers, reader }) => {
        try {
          const [committed] = await withDeadline(
            "the history store's readiness check",
            timeoutMs,
            undefined,
            (signal) =>
              Promise.all([
                options.committer.latest(pointers.ingestorName, { signal }),
                // An id no transaction has, of the chain's id length: the lookup itself is what is checked.
                reader.getTransaction(new Uint8Array(pointers.unit === "slot" ? 64 : 32)),
              ]),
          );
          return {
            chain: pointers.chain,
            ready: true,
            committed: committed === null ? null : pointers.toBlock(committed).toString(),
          };
        } catch (error) {
          return {
            chain: pointers.chain,
            ready: false,
            reasons: [failureReason(error, options.redactions)],
          };
        }
      }),
    );
    return { ready: chains.every((c) => c.ready), chains };
  };
  return () => {
    running ??= check().finally(() => {
      running = null;
    });
    return running;
  };
}
