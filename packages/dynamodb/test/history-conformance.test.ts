import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describeHistoryStore, kitOrderingKey, uniqueName } from "@tidemark/conformance";
import { pointerToBigInt } from "@tidemark/core";
import { beforeAll } from "vitest";
import { createHistoryTables, DynamoDbCommitter, DynamoDbHistoryStore } from "../src/index.js";
import { freshTables, newClient } from "./support.js";

let client: DynamoDBClient;
let commits: DynamoDbCommitter;
let shared: { table: string; accountTable: string };
beforeAll(async () => {
  client = newClient();
  commits = new DynamoDbCommitter({ client, table: (await freshTables(client)).commits });
  shared = { table: uniqueName("tx-by-hash"), accountTable: uniqueName("tx-by-account") };
});

// The history table is one global history, as in agora: no ingestor in its keys. Each of the kit's
// ingestors gets one of its own so its range reads see only its entries; the other two are shared.
const historyTables = new Map<string, Promise<string>>();
function historyTableOf(ingestor: string): Promise<string> {
  let table = historyTables.get(ingestor);
  if (table === undefined) {
    const name = uniqueName("tx-history");
    table = createHistoryTables(client, { ...shared, historyTable: name }).then(() => name);
    historyTables.set(ingestor, table);
  }
  return table;
}

// An item is the entry plus its key attributes and their names; DynamoDB's limit is 400 KiB per item.
const ITEM_LIMIT = 400 * 1024;

describeHistoryStore("dynamodb", {
  create: async ({ ingestor, codec }) =>
    new DynamoDbHistoryStore({
      client,
      codec,
      ...shared,
      historyTable: await historyTableOf(ingestor),
      committed: (signal) => commits.latest(ingestor, { signal }),
      globalHistory: (entry) => BigInt(entry.block),
      blockOfPointer: pointerToBigInt,
      orderingKeyOfBlock: (block, edge) => kitOrderingKey(Number(block), edge === "first" ? 0 : 0xffff_ffff),
    }),
  commit: async (ingestor, block) => {
    await commits.reset(ingestor, await commits.latest(ingestor), block);
  },
  largestEntryBytes: ITEM_LIMIT - 200,
  manyAccounts: 60,
});
