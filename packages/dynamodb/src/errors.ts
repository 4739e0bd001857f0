import {
  BackendUnavailableError,
  ConfigurationError,
  InvalidArgumentError,
  isTidemarkError,
  TidemarkError,
} from "@tidemark/core";

/** What was being done when DynamoDB answered with an error, for the message. */
export interface ErrorContext {
  /** The API call, e.g. `UpdateItem`. */
  readonly operation: string;
  /** The table (or tables) involved, with how each must be created, e.g. `"tx-history-commits" (hash key "ingestor" of type S)`. */
  readonly tables: readonly TableRef[];
  /** The item, e.g. `ingestor "kin3"`. */
  readonly subject: string;
  /** When it aborted, its reason is what the caller sees. */
  readonly signal?: AbortSignal | undefined;
}

/** A DynamoDB scalar type, as key schemas name them. */
export type KeyType = "S" | "N" | "B";

/** A table and the key schema this package expects of it. */
export interface TableRef {
  readonly name: string;
  readonly hashKey: string;
  /** The hash key's type (default S). */
  readonly hashType?: KeyType;
  /** The range key, for tables that have one. */
  readonly rangeKey?: string;
  readonly rangeType?: KeyType;
  /** The function of this package that creates the table, for messages (default `createTables`). */
  readonly createdBy?: string;
}

/** Codes DynamoDB (or STS, or the SDK's credential chain) uses when the caller's identity is the problem. */
const CREDENTIAL_ERRORS = new Set([
  "ExpiredTokenException",
  "ExpiredToken",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "InvalidClientTokenId",
  "AccessDeniedException",
  "MissingAuthenticationTokenException",
  "IncompleteSignatureException",
  "CredentialsProviderError",
]);

/** Codes left after the SDK's own retries gave up on throttling: refused, so certainly not applied. */
const THROTTLING_ERRORS = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
]);

/** True when DynamoDB refused a request for throughput: nothing of it was applied. */
export function isThrottling(error: unknown): boolean {
  return THROTTLING_ERRORS.has(errorName(error) ?? "");
}

/** 4xx codes that say the item was busy for a moment: nothing was applied, and waiting helps. */
const BUSY_ERRORS = new Set(["TransactionConflictException", "TransactionInProgressException"]);

/** Node's codes for a connection that failed or never came about. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

interface SdkErrorShape {
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly code?: unknown;
}

function httpStatus(error: unknown): number | undefined {
  return (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
}

/**
 * True when a write may or may not have been applied: DynamoDB answered with
 * a 5xx, or no answer came (a dropped connection, a timeout). Only the stored
 * item can tell then.
 */
export function outcomeUnknown(error: unknown): boolean {
  const shape = error as SdkErrorShape | null;
  const status = httpStatus(error);
  if (status !== undefined) return status >= 500;
  // The SDK tags what it sent with $metadata; an error without it never reached the network layer, unless Node's codes say so.
  return (
    shape?.$metadata !== undefined || NETWORK_CODES.has(String(shape?.code)) || errorName(error) === "TimeoutError"
  );
}

export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * Turns what the SDK threw into the error the caller should see: the abort
 * reason; `ConfigurationError` for what only an operator can fix (a missing
 * table, rejected credentials, another key schema); `BackendUnavailableError`
 * for what waiting may fix (throttling, a 5xx, a timeout, no answer at all);
 * otherwise a plain error naming the backend, call and table.
 */
export function mapDynamoError(error: unknown, context: ErrorContext): unknown {
  if (context.signal?.aborted) return context.signal.reason;
  if (isTidemarkError(error, TidemarkError)) return error;
  const name = errorName(error) ?? "Error";
  const message = error instanceof Error ? error.message : String(error);
  const where = `dynamodb: ${context.operation} of ${context.subject} in ${tableList(context.tables)}`;
  if (name === "ResourceNotFoundException") {
    return new ConfigurationError(
      `${where} failed: the table does not exist (${message}). Create it with ${context.tables[0]?.createdBy ?? "createTables"}() from @tidemark/dynamodb, ` +
        `or by hand: ${context.tables.map(describeSchema).join("; ")}, on-demand billing`,
      { cause: error },
    );
  }
  if (CREDENTIAL_ERRORS.has(name)) {
    return new ConfigurationError(
      `${where} was refused (${name}: ${message}); check the AWS credentials and their permissions`,
      { cause: error },
    );
  }
  // Thrown by the SDK before anything is sent: no retry can supply a region or fix the endpoint.
  if (message === "Region is missing" || (error as { code?: unknown } | null)?.code === "ERR_INVALID_URL") {
    return new ConfigurationError(`${where} could not be sent: ${message}; check the client's region and endpoint`, {
      cause: error,
    });
  }
  if (name === "ValidationException" && /key|schema/i.test(message)) {
    return new ConfigurationError(
      `${where} failed: the table's key schema is not the expected one (${message}); expected ${context.tables.map(describeSchema).join("; ")}`,
      { cause: error },
    );
  }
  if (name === "ValidationException") {
    return new InvalidArgumentError(`${where} was rejected by DynamoDB: ${message}`, { cause: error });
  }
  const attempts = (error as { $metadata?: { attempts?: number } } | null)?.$metadata?.attempts;
  const tries = attempts === undefined ? "" : ` after ${attempts} attempt${attempts === 1 ? "" : "s"}`;
  if (THROTTLING_ERRORS.has(name)) {
    return new BackendUnavailableError(`${where} was throttled${tries} (${name}: ${message})`, { cause: error });
  }
  if (BUSY_ERRORS.has(name) || outcomeUnknown(error)) {
    const status = httpStatus(error);
    const why = status === undefined ? "got no answer" : `got HTTP ${status}`;
    return new BackendUnavailableError(`${where} ${why}${tries}: ${name}: ${message}`, { cause: error });
  }
  return new Error(`${where} failed${tries}: ${name}: ${message}`, { cause: error });
}

export function describeSchema(table: TableRef): string {
  const range =
    table.rangeKey === undefined ? "" : ` and range key "${table.rangeKey}" of type ${table.rangeType ?? "S"}`;
  return `table "${table.name}" with hash key "${table.hashKey}" of type ${table.hashType ?? "S"}${range}`;
}

function tableList(tables: readonly TableRef[]): string {
  return tables.map((table) => `table "${table.name}"`).join(" and ");
}
