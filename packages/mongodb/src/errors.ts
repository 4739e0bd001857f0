import { BackendUnavailableError, ConfigurationError, isTidemarkError, raceAbort, TidemarkError } from "@tidemark/core";
import type { MongoClient } from "mongodb";
import { restartStuckMonitors } from "./monitor-repair.js";

/** The client an adapter instance talks through, and how to name it in messages. */
export interface MongoTarget {
  readonly client: MongoClient;
  /** The connection string without its password. */
  readonly uri: string;
}

/**
 * Clients whose topology driver 6 closed after a failed first connection: every
 * operation then rejects with "Topology is closed" until `connect()` is called
 * again. Per client, so a committer and a lock sharing one reopen it once.
 */
const closedTopologies = new WeakSet<MongoClient>();

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
 * Runs one driver operation, once: `run` and the lease engine retry, so a
 * retry here would only hide the outage and stretch their deadlines. A server
 * that cannot be reached, a dropped connection or a timeout rejects with
 * `BackendUnavailableError`; what no retry can fix (refused credentials,
 * missing rights, a closed client) with `ConfigurationError`; anything else
 * with an `Error` naming `what`. An abort rejects with `signal.reason`.
 */
export async function mongoCall<T>(
  what: string,
  target: MongoTarget,
  signal: AbortSignal | undefined,
  operation: () => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  const attempt = async () => {
    if (closedTopologies.has(target.client)) {
      closedTopologies.delete(target.client);
      await target.client.connect();
    }
    return operation();
  };
  const pending = attempt();
  // Also when the caller stopped waiting (a deadline): the driver's own failure tells whether to reopen.
  pending.catch((error: unknown) => {
    if ((error as Error | null)?.name === "MongoTopologyClosedError") closedTopologies.add(target.client);
  });
  try {
    // Writes take no signal in driver 6: racing keeps the caller's abort prompt; the write's outcome is ignored.
    return await (signal ? raceAbort(pending, signal) : pending);
  } catch (error) {
    // Whatever failed, even by a deadline, a monitor the driver left stuck would keep it failing.
    restartStuckMonitors(target.client);
    if (signal?.aborted) throw signal.reason;
    throw classify(what, target, error);
  }
}

/** Maps a driver error onto tidemark's meaning; tidemark's own errors pass through. */
function classify(what: string, target: MongoTarget, error: unknown): Error {
  if (error instanceof TidemarkError || isTidemarkError(error, TidemarkError)) return error as Error;
  const detail = `(${message(error)}), ${what}`;
  const refusal = configurationProblem(error);
  if (refusal !== null) {
    return new ConfigurationError(`mongodb: ${refusal} ${target.uri} ${detail}`, { cause: error });
  }
  if (isUnavailable(error)) {
    return new BackendUnavailableError(`mongodb: cannot reach ${target.uri} ${detail}`, { cause: error });
  }
  return new Error(`mongodb: ${what} failed: ${message(error)}`, { cause: error });
}

/** True for the driver's duplicate-key error (a unique `_id` refused a racing insert). */
export function isDuplicateKey(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 11000) return true;
  // Also when wrapped by `mongoCall`.
  return error instanceof Error && error.cause !== undefined && isDuplicateKey(error.cause);
}

// Names and codes, not classes: the application may load another copy of the driver than this package resolves.
const UNAVAILABLE_NAMES = new Set([
  "MongoServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoPoolClearedError",
  "MongoPoolClosedError",
  "PoolClearedOnNetworkError",
  "MongoWaitQueueTimeoutError",
  "MongoOperationTimeoutError",
  "MongoTopologyClosedError",
  "MongoServerClosedError",
]);
/** Server codes of a node that is down, stepping down, recovering, or slow (the driver's retryable set) and write-concern timeouts. */
const UNAVAILABLE_CODES = new Set([6, 7, 64, 89, 91, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436]);
const UNAVAILABLE_LABELS = ["RetryableWriteError", "ResetPool", "SystemOverloadedError"];

function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (UNAVAILABLE_NAMES.has(error.name)) return true;
  const { code, errorLabels } = error as { code?: unknown; errorLabels?: unknown };
  if (typeof code === "number" && UNAVAILABLE_CODES.has(code)) return true;
  return Array.isArray(errorLabels) && UNAVAILABLE_LABELS.some((label) => errorLabels.includes(label));
}

/** Why no operation can succeed until an operator acts, or null. */
function configurationProblem(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (code === 18 || code === "AuthenticationFailed") return "authentication failed at";
  // Any server error while a new connection authenticates, e.g. a server that does not support authentication.
  const labels = (error as { errorLabels?: unknown }).errorLabels;
  if (error.name === "MongoServerError" && Array.isArray(labels) && labels.includes("HandshakeError")) {
    return "authentication failed at";
  }
  if (error.name === "MongoMissingCredentialsError") return "missing credentials for";
  if (code === 13) return "not authorized at";
  if (code === 73) return "invalid namespace at";
  // Write concerns the deployment cannot satisfy (e.g. a tag set it does not have).
  if (code === 79 || code === 100) return "unsatisfiable write concern at";
  if (error.name === "MongoCompatibilityError") return "incompatible server at";
  // The application closed the client it passed in; no retry can reopen it.
  if (error.name === "MongoNotConnectedError" || error.name === "MongoClientClosedError") return "closed client for";
  return null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
