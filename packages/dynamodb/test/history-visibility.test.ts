import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { uniqueName } from "@tidemark/conformance";
import { InvalidArgumentError, isTidemarkError, pointerFromNumber, pointerToBigInt } from "@tidemark/core";
import {
  historyVisibilityScenario,
  VISIBILITY_CASES,
  visibilityCodec,
  visibilityOrderingKey,
} from "@tidemark/test-servers/history-visibility";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHistoryTables, DynamoDbHistoryStore } from "../src/index.js";
import { newClient } from "./support.js";

describe("DynamoDbHistoryStore with a visibility of several pointers", () => {
  let client: DynamoDBClient;
  const scenario = historyVisibilityScenario({
    open: async ({ visibility }) => {
      // The global history has no ingestor in its keys: tables of its own, so range reads see only this scenario.
      const tables = {
        table: uniqueName("tx-by-hash"),
        accountTable: uniqueName("tx-by-account"),
        historyTable: uniqueName("tx-history"),
      };
      await createHistoryTables(client, tables);
      return new DynamoDbHistoryStore({
        client,
        codec: visibilityCodec,
        ...tables,
        visibility,
        globalHistory: (entry) => BigInt(entry.block),
        blockOfPointer: pointerToBigInt,
        orderingKeyOfBlock: (block, edge) => visibilityOrderingKey(Number(block), edge === "first" ? 0 : 0xffff_ffff),
      });
    },
  });
  beforeAll(async () => {
    client = newClient();
    await scenario.setup();
  });
  afterAll(() => scenario.close());

  it.each(VISIBILITY_CASES)("%s: every read shows exactly the visible entries", async (name) => {
    expect(await scenario.check(name)).toEqual([]);
  });

  it("refuses committed and visibility together, naming the store", () => {
    let error: unknown;
    try {
      new DynamoDbHistoryStore({
        client,
        codec: visibilityCodec,
        committed: async () => pointerFromNumber(1),
        visibility: async () => ({ upTo: pointerFromNumber(1), hidden: [] }),
      });
    } catch (caught) {
      error = caught;
    }
    expect(isTidemarkError(error, InvalidArgumentError)).toBe(true);
    expect((error as Error).message).toMatch(/dynamodb history store: .*committed or .*visibility/);
  });
});
