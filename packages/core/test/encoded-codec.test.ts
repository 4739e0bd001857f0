import { describe, expect, it } from "vitest";
import {
  encodedCodec,
  MemoryCommitter,
  MemoryHistoryStore,
  pointerFromNumber,
  type SequenceEntry,
  sequenceCodec,
} from "../src/index.js";

const entry = (block: bigint, index: number): SequenceEntry => ({ block, index });

describe("encodedCodec", () => {
  it("derives what a write needs from the decoded entry and reads back the stored bytes undecoded", async () => {
    const codec = encodedCodec(sequenceCodec);
    const bytes = sequenceCodec.encode(entry(3n, 5));
    expect(codec.transactionId(bytes)).toEqual(sequenceCodec.transactionId(entry(3n, 5)));
    expect(codec.accounts(bytes)).toEqual(["account-1"]);
    expect(codec.orderingKey(bytes)).toEqual(sequenceCodec.orderingKey(entry(3n, 5)));
    expect(codec.block(bytes)).toEqual(pointerFromNumber(3));
    expect(codec.encode(bytes)).toBe(bytes);
    expect(codec.decode(bytes)).toBe(bytes);

    const committer = new MemoryCommitter();
    const store = new MemoryHistoryStore({ codec, committed: () => committer.latest("seq") });
    for (const index of [1, 5, 9]) await store.write(sequenceCodec.encode(entry(2n, index)));
    await committer.commit("seq", null, pointerFromNumber(2));
    const page = await store.getAccountHistory("account-1", { order: "desc" });
    expect(page.map((stored) => sequenceCodec.decode(stored))).toEqual([entry(2n, 9), entry(2n, 5), entry(2n, 1)]);
  });

  it("reconciles through the wrapped codec's rule on decoded entries", () => {
    const seen: [SequenceEntry, SequenceEntry][] = [];
    const codec = encodedCodec({
      ...sequenceCodec,
      reconcile: (stored: SequenceEntry, incoming: SequenceEntry) => {
        seen.push([stored, incoming]);
        return incoming.index > stored.index ? "replace" : "keep";
      },
    });
    const verdict = codec.reconcile?.(sequenceCodec.encode(entry(1n, 1)), sequenceCodec.encode(entry(1n, 2)));
    expect(verdict).toBe("replace");
    expect(seen).toEqual([[entry(1n, 1), entry(1n, 2)]]);
    expect(encodedCodec(sequenceCodec).reconcile).toBeUndefined();
  });
});
