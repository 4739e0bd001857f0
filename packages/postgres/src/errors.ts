import { BackendUnavailableError, ConfigurationError, CorruptRecordError } from "@tidemark/core";

/** SQLSTATE classes and codes that a restart cannot fix: wrong credentials, no such database, schema of another shape. */
const CONFIGURATION = new Set([
  "28000", // invalid_authorization_specification
  "28P01", // invalid_password
  "3D000", // invalid_catalog_name: the database does not exist
  "42P01", // undefined_table
  "42703", // undefined_column
  "42501", // insufficient_privilege
  "42804", // datatype_mismatch: a column of another type
  "3F000", // invalid_schema_name
]);

/** SQLSTATE codes of a transient outage: the server is shutting down, restarting, or cut the session. */
const UNAVAILABLE = new Set([
  "57P01", // admin_shutdown (also pg_terminate_backend)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up or in recovery
  "57014", // query_canceled: statement_timeout
  "53300", // too_many_connections
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "08000",
  "08003",
  "08006",
  "08001",
  "08004",
]);

/** Node socket errors of a server that cannot be reached or dropped the connection. */
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Maps a `pg` error onto tidemark's errors, naming the component and object
 * (`subject`, e.g. `postgres committer on table "tidemark_commits"`). The
 * message never carries the connection string.
 */
export function mapPgError(error: unknown, subject: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && CONFIGURATION.has(code)) {
    return new ConfigurationError(`${subject}: ${message} (SQLSTATE ${code})`, { cause: error });
  }
  if (typeof code === "string" && code === "22P02") {
    return new CorruptRecordError(`${subject}: ${message} (SQLSTATE ${code})`, { cause: error });
  }
  if (
    (typeof code === "string" && (UNAVAILABLE.has(code) || NETWORK.has(code) || code.startsWith("08"))) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      message,
    )
  ) {
    return new BackendUnavailableError(`${subject}: ${message}`, { cause: error });
  }
  return error;
}
