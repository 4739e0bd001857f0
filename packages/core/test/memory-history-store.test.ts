import { describe, expect, it } from "vitest";
import { MemoryCommitter, MemoryHistoryStore, pointerFromNumber, sequenceCodec } from "../src/index.js";

describe("MemoryHistoryStore", () => {
  it("writes idempotently and shows only committed blocks", async () => {
    const committer = new MemoryCommitter();
    const store = new MemoryHistoryStore({ codec: sequenceCodec, committed: () => committer.latest("seq") });
    for (const block of [1n, 2n, 3n]) {
      for (let index = 0; index < 4; index++) await store.write({ block, index });
    }
    await store.write({ block: 1n, index: 0 });
    expect(store.size).toBe(12);
    const id = sequenceCodec.transactionId({ block: 2n, index: 1 });
    expect(await store.getTransaction(id)).toBeNull();
    await committer.commit("seq", null, pointerFromNumber(2));
    expect(await store.getTransaction(id)).toEqual({ block: 2n, index: 1 });
    const history = await store.getAccountHistory("account-1");
    expect(history).toEqual([
      { block: 1n, index: 1 },
      { block: 2n, index: 1 },
    ]);
    const descending = await store.getAccountHistory("account-1", { order: "desc", limit: 1 });
    expect(descending).toEqual([{ block: 2n, index: 1 }]);
    const after = await store.getAccountHistory("account-1", {
      cursor: sequenceCodec.orderingKey({ block: 1n, index: 1 }),
    });
    expect(after).toEqual([{ block: 2n, index: 1 }]);
    expect(await store.getBlockRange(pointerFromNumber(2), pointerFromNumber(3))).toHaveLength(4);
  });
});
