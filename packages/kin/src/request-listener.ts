import type { Logger } from "@tidemark/core";
import type { RetryInfo } from "./retry-listener.js";

/** A chain request that succeeded, as the ingestors' `onRequestSucceeded` option reports it. */
export interface ChainRequest {
  /** The endpoint's kind: `solana` (JSON-RPC) or `horizon`. */
  readonly backend: RetryInfo["backend"];
  /** The request, named exactly as {@link RetryInfo.operation} names it when it is retried. */
  readonly operation: string;
}

/** Told about each chain request that succeeded; see {@link ChainRequest}. */
export type RequestListener = (request: ChainRequest) => void;

// Listeners already reported as throwing: they run on every request, so one warning each is enough.
const reported = new WeakSet<RequestListener>();

/** Calls the user's listener; one that throws is logged once and otherwise ignored. */
export function notifySucceeded(listener: RequestListener | undefined, request: ChainRequest, logger: Logger): void {
  if (listener === undefined) return;
  try {
    listener(request);
  } catch (error) {
    if (reported.has(listener)) return;
    reported.add(listener);
    try {
      logger.warn(
        { backend: request.backend, request: request.operation, err: error },
        "onRequestSucceeded listener threw; ignored (reported once)",
      );
    } catch {
      // Neither a broken listener nor a broken logger may fail the request that succeeded.
    }
  }
}
