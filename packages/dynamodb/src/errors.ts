import { ConfigurationError, InvalidArgumentError, isTidemarkError, TidemarkError } from "@tidemark/core";

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

export interface TableRef {
  readonly name: string;
  readonly hashKey: string;
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

/** Codes left after the SDK's own retries gave up on throttling. */
const THROTTLING_ERRORS = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
]);

export function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * Turns what the SDK threw into the error the caller should see: the abort
 * reason, a typed tidemark error for what retrying cannot fix, or a plain
 * error naming the backend, call and table for what it may.
 */
export function mapDynamoError(error: unknown, context: ErrorContext): unknown {
  if (context.signal?.aborted) return context.signal.reason;
  if (isTidemarkError(error, TidemarkError)) return error;
  const name = errorName(error) ?? "Error";
  const message = error instanceof Error ? error.message : String(error);
  const where = `dynamodb: ${context.operation} of ${context.subject} in ${tableList(context.tables)}`;
  if (name === "ResourceNotFoundException") {
    return new ConfigurationError(
      `${where} failed: the table does not exist (${message}). Create it with createTables() from @tidemark/dynamodb, ` +
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
    return new Error(`${where} was throttled${tries} (${name}: ${message})`, { cause: error });
  }
  return new Error(`${where} failed${tries}: ${name}: ${message}`, { cause: error });
}

export function describeSchema(table: TableRef): string {
  return `table "${table.name}" with hash key "${table.hashKey}" of type S`;
}

function tableList(tables: readonly TableRef[]): string {
  return tables.map((table) => `table "${table.name}"`).join(" and ");
}
