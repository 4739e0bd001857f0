import { backoffDelay, ConfigurationError, isTidemarkError, raceAbort, sleep, TidemarkError } from "@tidemark/core";
import type { MongoClient } from "mongodb";

/** How an adapter instance retries an unreachable server or refused credentials. */
export interface ConnectPolicy {
  readonly attempts: number;
  readonly retryMs: number;
  /** The connection string without its password, for messages. */
  readonly target: string;
  /**
   * Reopens the client before a retry. Driver 6 closes a client whose first
   * connection failed and then rejects every operation with "Topology is
   * closed" until `connect()` is called again; on a connected client it does nothing.
   */
  readonly reconnect: () => Promise<unknown>;
}

/**
 * The connection string the client was built from, rebuilt from the parsed
 * options so that the password can never appear in a message or a log.
 */
export function redactedUri(client: MongoClient): string {
  const options = client.options;
  const user = options.credentials?.username ? `${encodeURIComponent(options.credentials.username)}@` : "";
  const database = options.dbName ? `/${options.dbName}` : "/";
  if (options.srvHost) return `mongodb+srv://${user}${options.srvHost}${database}`;
  return `mongodb://${user}${options.hosts.map(String).join(",")}${database}`;
}

/**
 * Runs `operation`, trying again while the server is unreachable or refuses
 * the credentials; once the tries are used up, rejects with
 * `ConfigurationError`. Any other failure is returned at once (wrapped to name
 * `what`); an abort rejects with `signal.reason`.
 */
export async function withConnectRetries<T>(
  what: string,
  policy: ConnectPolicy,
  signal: AbortSignal | undefined,
  operation: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      const attemptOnce = async () => {
        if (attempt > 1) await policy.reconnect();
        return operation();
      };
      // Writes take no signal in driver 6: racing keeps the caller's abort prompt; the write's outcome is ignored.
      return await (signal ? raceAbort(attemptOnce(), signal) : attemptOnce());
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const problem = connectProblem(error);
      if (problem === null) throw operationFailed(what, error);
      if (attempt >= policy.attempts) {
        throw new ConfigurationError(
          `mongodb: ${problem} ${policy.target} after ${attempt} attempt${attempt === 1 ? "" : "s"} (${message(error)}), ${what}`,
          { cause: error },
        );
      }
      await sleep(backoffDelay(attempt, { initialMs: policy.retryMs, maxMs: 30_000 }), signal);
    }
  }
}

/** Wraps a driver error so its message names the operation and document; tidemark's own errors pass through. */
export function operationFailed(what: string, error: unknown): Error {
  if (error instanceof TidemarkError || isTidemarkError(error, TidemarkError)) return error as Error;
  return new Error(`mongodb: ${what} failed: ${message(error)}`, { cause: error });
}

/** True for the driver's duplicate-key error (a unique `_id` refused a racing insert). */
export function isDuplicateKey(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 11000) return true;
  // Also when wrapped by `operationFailed`.
  return error instanceof Error && error.cause !== undefined && isDuplicateKey(error.cause);
}

/** Why no operation can succeed until an operator acts, or null for any other error. */
function connectProblem(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  // Names, not classes: the application may load another copy of the driver than this package resolves.
  if (error.name === "MongoServerSelectionError" || error.name === "MongoTopologyClosedError") return "cannot reach";
  const code = (error as { code?: unknown }).code;
  if (code === 18 || code === "AuthenticationFailed") return "authentication failed at";
  // Any server error while a new connection authenticates, e.g. a server that does not support authentication.
  const labels = (error as { errorLabels?: unknown }).errorLabels;
  if (error.name === "MongoServerError" && Array.isArray(labels) && labels.includes("HandshakeError")) {
    return "authentication failed at";
  }
  if (error.name === "MongoMissingCredentialsError") return "missing credentials for";
  return null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
