import { TidemarkError } from "@tidemark/core";

/**
 * A chain endpoint (Solana RPC or Horizon) kept failing: the request was
 * retried with capped exponential backoff until its attempts ran out, or the
 * failure cannot improve by retrying. `run` restarts ingestion after it.
 */
export class KinRpcError extends TidemarkError {
  constructor(
    message: string,
    /** The endpoint's method or path, e.g. `getBlock`. */
    readonly method: string,
    /** How many times the request was sent. */
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A chain endpoint answered with something that does not have the expected
 * shape. The message names the request (slot or ledger) and the field.
 */
export class RpcResponseError extends TidemarkError {
  constructor(
    message: string,
    /** The path of the offending field in the response, e.g. `transactions[3].meta.err`. */
    readonly field: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
