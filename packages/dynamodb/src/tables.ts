import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  type TableDescription,
} from "@aws-sdk/client-dynamodb";
import { ConfigurationError, sleep } from "@tidemark/core";
import { describeSchema, errorName, mapDynamoError, type TableRef } from "./errors.js";
import { DEFAULT_COMMITS_TABLE, DEFAULT_LOCKS_TABLE } from "./options.js";

/** The commit table's hash key, as agora named it. */
export const COMMITS_HASH_KEY = "ingestor";
/** The lock table's hash key, as cirello.io/dynamolock names it by default. */
export const LOCKS_HASH_KEY = "key";

export interface CreateTablesOptions {
  /** Default `"tx-history-commits"`. */
  readonly commitsTable?: string;
  /** Default `"tx-history-locks"`. */
  readonly locksTable?: string;
  /** How long to wait for new tables to become ACTIVE, in ms (default 120 000). */
  readonly timeoutMs?: number;
  /** Aborting it stops waiting (tables already requested are still created by DynamoDB). */
  readonly signal?: AbortSignal;
}

/**
 * Creates the commit and lock tables with the exact schemas agora and
 * dynamolock use (on-demand billing), and waits until both are ACTIVE.
 * Idempotent: an existing table is checked, not changed; one with another key
 * schema is a `ConfigurationError`.
 */
export async function createTables(client: DynamoDBClient, options: CreateTablesOptions = {}): Promise<void> {
  const tables: TableRef[] = [
    { name: options.commitsTable ?? DEFAULT_COMMITS_TABLE, hashKey: COMMITS_HASH_KEY },
    { name: options.locksTable ?? DEFAULT_LOCKS_TABLE, hashKey: LOCKS_HASH_KEY },
  ];
  const deadline = performance.now() + (options.timeoutMs ?? 120_000);
  for (const table of tables) await ensureTable(client, table, deadline, options.signal);
}

/**
 * Creates `table` with its key schema (on-demand billing) unless it exists,
 * checks the schema of an existing one, and waits until it is ACTIVE.
 */
export async function ensureTable(client: DynamoDBClient, table: TableRef, deadline: number, signal?: AbortSignal) {
  let description = await describe(client, table, signal);
  if (description === null) {
    const keys: KeySchemaElement[] = [{ AttributeName: table.hashKey, KeyType: "HASH" }];
    const attributes: AttributeDefinition[] = [{ AttributeName: table.hashKey, AttributeType: table.hashType ?? "S" }];
    if (table.rangeKey !== undefined) {
      keys.push({ AttributeName: table.rangeKey, KeyType: "RANGE" });
      attributes.push({ AttributeName: table.rangeKey, AttributeType: table.rangeType ?? "S" });
    }
    try {
      await client.send(
        new CreateTableCommand({
          TableName: table.name,
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: keys,
          AttributeDefinitions: attributes,
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      // Another node created it in the meantime: fine, it is checked below like any existing table.
      if (errorName(error) !== "ResourceInUseException") throw mapError(error, table, "CreateTable", signal);
    }
    description = await describe(client, table, signal);
  }
  checkSchema(table, description);
  while (description?.TableStatus !== "ACTIVE") {
    if (performance.now() >= deadline) {
      throw new ConfigurationError(
        `dynamodb: table "${table.name}" is still ${description?.TableStatus ?? "missing"} after waiting for it to become ACTIVE`,
      );
    }
    await sleep(250, signal);
    description = await describe(client, table, signal);
  }
}

async function describe(client: DynamoDBClient, table: TableRef, signal?: AbortSignal) {
  try {
    const output = await client.send(new DescribeTableCommand({ TableName: table.name }), { abortSignal: signal });
    return output.Table ?? null;
  } catch (error) {
    if (errorName(error) === "ResourceNotFoundException") return null;
    throw mapError(error, table, "DescribeTable", signal);
  }
}

/**
 * Checks that `table` exists with the expected key schema, without creating
 * anything: a `ConfigurationError` naming the table otherwise.
 */
export async function checkTable(client: DynamoDBClient, table: TableRef, signal?: AbortSignal): Promise<void> {
  const description = await describe(client, table, signal);
  if (description === null) {
    throw new ConfigurationError(
      `dynamodb: table "${table.name}" does not exist. Create it with ${table.createdBy ?? "createTables"}() from @tidemark/dynamodb, ` +
        `or by hand: ${describeSchema(table)}, on-demand billing`,
    );
  }
  checkSchema(table, description);
}

function checkSchema(table: TableRef, description: TableDescription | null): void {
  const keys = description?.KeySchema ?? [];
  const typeOf = (name: string | undefined) =>
    description?.AttributeDefinitions?.find((d) => d.AttributeName === name)?.AttributeType;
  const hash = keys.find((key) => key.KeyType === "HASH");
  const range = keys.find((key) => key.KeyType === "RANGE");
  const hashMatches = hash?.AttributeName === table.hashKey && typeOf(hash?.AttributeName) === (table.hashType ?? "S");
  const rangeMatches =
    table.rangeKey === undefined
      ? range === undefined
      : range?.AttributeName === table.rangeKey && typeOf(range?.AttributeName) === (table.rangeType ?? "S");
  if (!hashMatches || !rangeMatches) {
    const found =
      keys
        .map((key) => `${key.KeyType} "${key.AttributeName}" of type ${typeOf(key.AttributeName) ?? "?"}`)
        .join(", ") || "no key schema";
    const noRange = table.rangeKey === undefined ? " and no range key" : "";
    throw new ConfigurationError(
      `dynamodb: table "${table.name}" exists with ${found}; expected ${describeSchema(table)}${noRange}`,
    );
  }
}

function mapError(error: unknown, table: TableRef, operation: string, signal?: AbortSignal): unknown {
  return mapDynamoError(error, { operation, tables: [table], subject: "the table", signal });
}
