/**
 * A chain endpoint answered with an HTTP error status. A plain error of our
 * own: `@solana/kit`'s HTTP error keeps the same facts in a frozen `context`
 * that pino's error serializer throws on, and a retry listener is likely to log it.
 */
export class HttpStatusError extends Error {
  override readonly name = "HttpStatusError";

  constructor(
    /** The HTTP status, e.g. 429. */
    readonly status: number,
    statusText: string,
    /** The wait the server asked for with `Retry-After`, in ms, if it did. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}${statusText === "" ? "" : ` ${statusText}`}`);
  }
}
