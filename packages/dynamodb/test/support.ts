import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { uniqueName } from "@tidemark/conformance";
import { afterAll, inject } from "vitest";
import { createTables } from "../src/index.js";

/** Every client a test file made, destroyed after the file so no socket outlives it. */
const clients = new Set<DynamoDBClient>();
afterAll(() => {
  for (const client of clients) client.destroy();
  clients.clear();
});

/**
 * A client for the suite's DynamoDB (or `endpoint`, e.g. a fault proxy). Against
 * the DynamoDB Local the setup started, fixed credentials; otherwise the usual
 * AWS_* variables decide.
 */
export function newClient(options: { endpoint?: string; config?: DynamoDBClientConfig } = {}): DynamoDBClient {
  const local = inject("dynamodbLocal");
  const client = new DynamoDBClient({
    endpoint: options.endpoint ?? inject("dynamodbEndpoint"),
    ...(local ? { region: "us-east-1", credentials: { accessKeyId: "tidemark", secretAccessKey: "tidemark" } } : {}),
    ...options.config,
  });
  clients.add(client);
  return client;
}

export function destroyClient(client: DynamoDBClient): void {
  client.destroy();
  clients.delete(client);
}

/** Creates a commit and a lock table with fresh names, so runs against one server never meet. */
export async function freshTables(client: DynamoDBClient): Promise<{ commits: string; locks: string }> {
  const tables = { commits: uniqueName("tidemark-commits"), locks: uniqueName("tidemark-locks") };
  await createTables(client, { commitsTable: tables.commits, locksTable: tables.locks });
  return tables;
}
