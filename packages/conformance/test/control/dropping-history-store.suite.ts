import { type HistoryStore, MemoryCommitState, MemoryCommitter, MemoryHistoryStore } from "@tidemark/core";
import { describeHistoryStore, type KitEntry } from "../../src/index.js";

const commits = new MemoryCommitState();

/** A store that silently drops every other write: the kit must catch it. */
function droppingStore(
  ingestor: string,
  codec: ConstructorParameters<typeof MemoryHistoryStore<KitEntry>>[0]["codec"],
) {
  const inner = new MemoryHistoryStore({
    codec,
    committed: () => new MemoryCommitter({ state: commits }).latest(ingestor),
  });
  let writes = 0;
  const store: HistoryStore<KitEntry> = {
    write: async (entry, options) => {
      if (writes++ % 2 === 1) return;
      await inner.write(entry, options);
    },
    getTransaction: (id) => inner.getTransaction(id),
    getAccountHistory: (account, query) => inner.getAccountHistory(account, query),
    getBlockRange: (from, to) => inner.getBlockRange(from, to),
    close: () => inner.close(),
  };
  return store;
}

describeHistoryStore("dropping", {
  create: ({ ingestor, codec }) => droppingStore(ingestor, codec),
  commit: async (ingestor, block) => {
    const committer = new MemoryCommitter({ state: commits });
    await committer.reset(ingestor, await committer.latest(ingestor), block);
  },
});
