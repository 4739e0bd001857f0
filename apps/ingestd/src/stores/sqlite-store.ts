import { kinHistoryCodec } from "@tidemark/kin";
import { SqliteCommitter, SqliteHistoryStore, SqliteLock } from "@tidemark/sqlite";
import { lockRegistry } from "./lock-registry.js";
import type { Store, StoreOptions } from "./store.js";

/** `sqlite:PATH`: commits, locks and history in one local file (the embedded default). */
export function openSqliteStore(url: string, options: StoreOptions): Store {
  const path = url.slice("sqlite:".length);
  const committer = new SqliteCommitter({ path });
  const { createLock, closeLocks } = lockRegistry(options, (settings) => new SqliteLock({ path, ...settings }));
  return {
    label: url,
    committer,
    createLock,
    // Without an outside pointer, reads join this file's commit table in the same statement.
    openHistory: (ingestor, committed) =>
      new SqliteHistoryStore({ path, codec: kinHistoryCodec, ingestor, ...(committed ? { committed } : {}) }),
    async close() {
      await closeLocks();
      await committer.close();
    },
  };
}
