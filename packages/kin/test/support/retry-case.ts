import type { ChainRequest, RetryInfo, RetryKind } from "../../src/index.js";

/** Everything an ingestor's onRetry and onRequestSucceeded hooks heard, in order. */
export type Heard = { readonly retry: RetryInfo } | { readonly ok: ChainRequest };

/** A way a node answers badly, and the kind (and HTTP status) the ingestor must report retrying it. */
export interface RetryCase<F, O> {
  readonly name: string;
  readonly fault: F;
  readonly kind: RetryKind;
  readonly status?: number;
  /** Ingestor options the case needs, such as a shorter timeout for a node that never answers. */
  readonly options?: Partial<O>;
}
