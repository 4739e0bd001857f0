import { InvalidArgumentError, isTidemarkError, pointerFromNumber } from "@tidemark/core";
import {
  historyVisibilityScenario,
  VISIBILITY_CASES,
  visibilityCodec,
} from "@tidemark/test-servers/history-visibility";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresHistoryStore } from "../src/index.js";
import { url } from "./history-support.js";

describe("PostgresHistoryStore with a visibility of several pointers", () => {
  const scenario = historyVisibilityScenario({
    open: ({ ingestor, visibility }) =>
      new PostgresHistoryStore({ connectionString: url, codec: visibilityCodec, ingestor, visibility }),
  });
  beforeAll(() => scenario.setup());
  afterAll(() => scenario.close());

  it.each(VISIBILITY_CASES)("%s: every read shows exactly the visible entries", async (name) => {
    expect(await scenario.check(name)).toEqual([]);
  });

  it("refuses committed and visibility together, naming the store", () => {
    let error: unknown;
    try {
      new PostgresHistoryStore({
        connectionString: url,
        codec: visibilityCodec,
        ingestor: "both",
        committed: async () => pointerFromNumber(1),
        visibility: async () => ({ upTo: pointerFromNumber(1), hidden: [] }),
      });
    } catch (caught) {
      error = caught;
    }
    expect(isTidemarkError(error, InvalidArgumentError)).toBe(true);
    expect((error as Error).message).toMatch(/postgres history store: .*committed or .*visibility/);
  });
});
