import type { Logger } from "@tidemark/core";
import type { KinVersion } from "../gen/model_pb.js";
import type { RequestListener } from "../request-listener.js";
import type { RetryOptions } from "../retry.js";
import type { RetryListener } from "../retry-listener.js";

/** Options of {@link KinStellarIngestor}. */
export interface KinStellarIngestorOptions {
  /** The Horizon server, e.g. `https://horizon.kinfederation.com`. */
  readonly horizonUrl: string;
  /** The version byte of pointers and entries: KIN3 (default) or KIN2. */
  readonly version?: KinVersion.KIN2 | KinVersion.KIN3;
  /**
   * The network passphrase stored in each entry, which its transaction id is
   * computed under (default: the version's mainnet, `Kin Mainnet ; December 2018`
   * or `Public Global Kin Ecosystem Network ; June 2018`). Any Stellar network works.
   */
  readonly networkPassphrase?: string;
  /** The name commits are stored under (default `history_KIN3` / `history_KIN2`, as agora). */
  readonly name?: string;
  /** Allow a plain-http Horizon URL (default false; for local servers). */
  readonly allowHttp?: boolean;
  /** Extra HTTP headers for every Horizon request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Ledgers whose transactions are fetched at once (default 8). */
  readonly concurrency?: number;
  /** Results that may wait for `run` before processing pauses (default 64). */
  readonly bound?: number;
  /** Transactions per page (default and Horizon's maximum: 200). */
  readonly pageLimit?: number;
  /** Ledgers buffered from the stream before it is paused (default 256). */
  readonly streamBuffer?: number;
  /** Reopen the ledger stream after this long without an event, in ms (default 15 000, the SDK's). */
  readonly streamIdleTimeoutMs?: number;
  /** Timeout of one Horizon request, in ms (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** How failed requests and stream drops are retried (defaults: 6 attempts, 250 ms doubling to 10 s). */
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
   * Told about every chain request that succeeded (for the ledger stream: every ledger event received), by the same
   * `operation` name `onRetry` uses, so a request reported failing can be
   * seen to recover. Called often: it must be cheap. A listener that throws
   * is logged once and otherwise ignored.
   */
  readonly onRequestSucceeded?: RequestListener;
  readonly logger?: Logger;
}
