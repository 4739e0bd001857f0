import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
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

async function ensureTable(client: DynamoDBClient, table: TableRef, deadline: number, signal?: AbortSignal) {
  let description = await describe(client, table, signal);
  if (description === null) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: table.name,
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: [{ AttributeName: table.hashKey, KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: table.hashKey, AttributeType: "S" }],
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

function checkSchema(table: TableRef, description: TableDescription | null): void {
  const keys = description?.KeySchema ?? [];
  const hash = keys.find((key) => key.KeyType === "HASH");
  const type = description?.AttributeDefinitions?.find((d) => d.AttributeName === hash?.AttributeName)?.AttributeType;
  if (keys.length !== 1 || hash?.AttributeName !== table.hashKey || type !== "S") {
    const found = keys.map((key) => `${key.KeyType} "${key.AttributeName}"`).join(", ") || "no key schema";
    throw new ConfigurationError(
      `dynamodb: table "${table.name}" exists with ${found}${type ? ` of type ${type}` : ""}; expected ${describeSchema(table)} and no range key`,
    );
  }
}

function mapError(error: unknown, table: TableRef, operation: string, signal?: AbortSignal): unknown {
  return mapDynamoError(error, { operation, tables: [table], subject: "the table", signal });
}
