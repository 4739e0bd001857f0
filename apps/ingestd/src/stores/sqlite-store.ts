import type { DistributedLock } from "@tidemark/core";
import { kinHistoryCodec } from "@tidemark/kin";
import { SqliteCommitter, SqliteHistoryStore, SqliteLock } from "@tidemark/sqlite";
import type { Store, StoreOptions } from "./store.js";

/** `sqlite:PATH`: commits, locks and history in one local file (the embedded default). */
export function openSqliteStore(url: string, options: StoreOptions): Store {
  const path = url.slice("sqlite:".length);
  const committer = new SqliteCommitter({ path });
  const locks: SqliteLock[] = [];
  return {
    label: url,
    committer,
    createLock(key, { leaseMs, owner }): DistributedLock {
      const lock = new SqliteLock({
        path,
        key,
        owner,
        ...((leaseMs ?? options.leaseMs) ? { leaseMs: leaseMs ?? options.leaseMs } : {}),
      });
      locks.push(lock);
      return lock;
    },
    // Without an outside pointer, reads join this file's commit table in the same statement.
    openHistory: (ingestor, committed) =>
      new SqliteHistoryStore({ path, codec: kinHistoryCodec, ingestor, ...(committed ? { committed } : {}) }),
    async close() {
      for (const lock of locks) await lock.close();
      await committer.close();
    },
  };
}
