import type { Logger } from "@tidemark/core";
import type { RequestListener } from "../request-listener.js";
import type { RetryOptions } from "../retry.js";
import type { RetryListener } from "../retry-listener.js";

/** Options of {@link KinSolanaIngestor}. */
export interface KinSolanaIngestorOptions {
  /** The Solana JSON-RPC endpoint (http or https), e.g. `https://api.mainnet-beta.solana.com`. */
  readonly rpcUrl: string;
  /** Extra HTTP headers for every RPC request (an API key, for example). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The name commits are stored under (default `history_KIN4`, as agora). */
  readonly name?: string;
  /** The mint whose transactions are kept (default the Kin mint `kinXdEcpDQeHPEuQnqmUgtYykqKGVFq6CeVX5iAHJq6`). */
  readonly mint?: string;
  /** Where to start when nothing is committed yet (default slot 0, the chain's start). */
  readonly startSlot?: bigint;
  /**
   * The last slot to ingest, inclusive (default none: follow the chain). Only
   * slots up to it are listed and fetched. Once the finalized chain passed it,
   * a skipped `lastSlot` is delivered as an empty result, so a pointer can
   * reach it, and nothing more is produced: give `run` `until: solanaPointer(lastSlot)`.
   * A backfill partition's end.
   */
  readonly lastSlot?: bigint;
  /** Blocks fetched at once (default 8). */
  readonly concurrency?: number;
  /**
   * Worker threads that read getBlock answers (decompress, parse, select the
   * Kin transactions, build their entries), off the thread that fetches and
   * writes (default `os.availableParallelism()`, one per core; 0 reads them
   * on the calling thread). Blocks still commit in slot order. The threads
   * start as blocks arrive and end with the ingestion session.
   */
  readonly workers?: number;
  /**
   * Bytes of getBlock answers fetched and not yet read that may be in flight
   * before further blocks wait (default 32 MiB). Counted as they arrive (as
   * sent, so gzipped when the node compresses): the total may pass it by the
   * answers under way, at most `concurrency` of them.
   */
  readonly maxBytesInFlight?: number;
  /** Results that may wait for `run` before fetching pauses (default 64). */
  readonly bound?: number;
  /** Slots asked for per `getBlocksWithLimit` call (default 1024). */
  readonly batchSize?: number;
  /** Pause between `getBlocksWithLimit` calls once caught up, in ms (default 1000; never less than 1000). */
  readonly pollMs?: number;
  /** Timeout of one RPC request, in ms (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** How failed requests are retried (defaults: 6 attempts, 250 ms doubling to 10 s, Retry-After up to 60 s). */
  readonly retry?: RetryOptions;
  /**
   * Told about every failed request that is about to be retried, before the
   * wait: which request, the attempt, the delay, the HTTP status and whether
   * the endpoint throttled (HTTP 429) and the failure's `kind`. For metrics;
   * it must not block. A listener that throws is logged and ignored, never
   * stopping the retry.
   */
  readonly onRetry?: RetryListener;
  /**
   * Told about every chain request that succeeded, by the same
   * `operation` name `onRetry` uses, so a request reported failing can be
   * seen to recover. Called often: it must be cheap. A listener that throws
   * is logged once and otherwise ignored.
   */
  readonly onRequestSucceeded?: RequestListener;
  /**
   * Store tidemark's metadata extension in each entry (default true): the
   * lookup-table addresses, the SPL Token inner instructions and the token
   * accounts with their mints and owners, which the Solana account view needs.
   * agora's readers skip it. Set false to write entries byte-identical to agora v0.2.7's.
   */
  readonly extensions?: boolean;
  readonly logger?: Logger;
}
