// A DynamoDB restart between the history write and the commit: this file runs its own DynamoDB
// Local with its tables on disk, so that it can be killed and started again on the same port.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type KitEntry, kitCodec } from "@tidemark/conformance";
import { pointerFromNumber } from "@tidemark/core";
import { type DynamoDbLocalTestServer, startDynamoDbLocal } from "@tidemark/test-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createHistoryTables, createTables, DynamoDbCommitter, DynamoDbHistoryStore } from "../src/index.js";

let server: DynamoDbLocalTestServer;
beforeAll(async () => {
  server = await startDynamoDbLocal({ persistent: true });
}, 120_000);
afterAll(async () => {
  await server?.close();
});

function client(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: server.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "tidemark", secretAccessKey: "tidemark" },
    maxAttempts: 1,
  });
}

it("keeps what was written before a crash and restart, invisible until the commit, whole after it", async () => {
  const before = client();
  await createTables(before, {});
  await createHistoryTables(before, {});
  const ingestor = "restart";
  const committer = new DynamoDbCommitter({ client: before });
  const options = {
    codec: kitCodec,
    committed: (signal?: AbortSignal) => committer.latest(ingestor, signal ? { signal } : {}),
  };
  const writer = new DynamoDbHistoryStore<KitEntry>({ client: before, ...options });
  const entries: KitEntry[] = Array.from({ length: 30 }, (_, i) => ({
    id: `${ingestor}-${i}`,
    block: 1 + Math.floor(i / 3),
    index: i % 3,
    accounts: ["alice", `bob-${i}`],
    payload: `transfer ${i}`,
    revision: 0,
  }));
  await Promise.all(entries.map((entry) => writer.write(entry)));
  await writer.close();
  before.destroy();

  await server.stop({ signal: "SIGKILL" });
  await server.start();

  const after = client();
  try {
    const commits = new DynamoDbCommitter({ client: after });
    const reader = new DynamoDbHistoryStore<KitEntry>({
      client: after,
      ...options,
      committed: (signal?: AbortSignal) => commits.latest(ingestor, signal ? { signal } : {}),
    });
    expect(await reader.getAccountHistory("alice", { limit: 100 }), "before the commit").toEqual([]);
    await commits.commit(ingestor, null, pointerFromNumber(10));
    expect(await reader.getAccountHistory("alice", { limit: 100 })).toEqual(entries);
    for (const entry of entries) {
      expect(await reader.getAccountHistory(entry.accounts[1] as string)).toEqual([entry]);
    }
    await reader.close();
    await commits.close();
  } finally {
    after.destroy();
  }
}, 180_000);
