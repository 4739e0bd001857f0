import { InvalidArgumentError, isTidemarkError, pointerFromNumber } from "@tidemark/core";
import {
  historyVisibilityScenario,
  VISIBILITY_CASES,
  visibilityCodec,
} from "@tidemark/test-servers/history-visibility";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MongoHistoryStore } from "../src/index.js";
import { openClient } from "./support/clients.js";

describe("MongoHistoryStore with a visibility of several pointers", () => {
  const client = openClient();
  const scenario = historyVisibilityScenario({
    open: ({ ingestor, visibility }) => new MongoHistoryStore({ client, codec: visibilityCodec, ingestor, visibility }),
  });
  beforeAll(() => scenario.setup());
  afterAll(() => scenario.close());

  it.each(VISIBILITY_CASES)("%s: every read shows exactly the visible entries", async (name) => {
    expect(await scenario.check(name)).toEqual([]);
  });

  it("refuses committed and visibility together, naming the store", () => {
    let error: unknown;
    try {
      new MongoHistoryStore({
        client,
        codec: visibilityCodec,
        ingestor: "both",
        committed: async () => pointerFromNumber(1),
        visibility: async () => ({ upTo: pointerFromNumber(1), hidden: [] }),
      });
    } catch (caught) {
      error = caught;
    }
    expect(isTidemarkError(error, InvalidArgumentError)).toBe(true);
    expect((error as Error).message).toMatch(/mongodb history store: .*committed or .*visibility/);
  });
});
