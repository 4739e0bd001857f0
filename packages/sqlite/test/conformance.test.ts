import { DatabaseSync } from "node:sqlite";
import { describeCommitter, describeHistoryStore, describeLock } from "@tidemark/conformance";
import { afterAll } from "vitest";
import { SqliteCommitter, SqliteHistoryStore, SqliteLock } from "../src/index.js";
import { temporaryDatabase } from "./temp-database.js";

const path = temporaryDatabase();
// A separate connection plays the operator: raw reads and records deleted behind a holder's back.
const raw = new DatabaseSync(path);
raw.exec("PRAGMA busy_timeout = 2000");
afterAll(() => raw.close());
const readRaw = async (ingestor: string) => {
  const row = raw.prepare("SELECT latest FROM tidemark_commits WHERE ingestor = ?").get(ingestor) as
    | { latest: Uint8Array | null }
    | undefined;
  return row?.latest ?? null;
};

describeCommitter("sqlite", {
  create: () => new SqliteCommitter({ path }),
  readRaw,
});

describeLock("sqlite", {
  create: (key) => new SqliteLock({ path, key, leaseMs: 1500, heartbeatMs: 500, pollMs: 50 }),
  crash: (lock) => (lock as SqliteLock).simulateCrash(),
  forceLoss: (key) => {
    raw.prepare("DELETE FROM tidemark_locks WHERE key = ?").run(key);
  },
  // A file cannot be cut off from one connection: another one holds the write lock instead, so
  // every write (renewals, and any contender's takeover) finds the database busy until healed.
  cutOff: () => {
    raw.exec("BEGIN EXCLUSIVE");
    return () => raw.exec("ROLLBACK");
  },
  lastRenewedAt: (lock) => (lock as SqliteLock).lastRenewedAt,
  leaseMs: 1500,
  heartbeatMs: 500,
  pollMs: 50,
  createCommitter: () => new SqliteCommitter({ path }),
  readRaw,
});

describeHistoryStore("sqlite", {
  // Visibility joins the commit table of the same file in the same statement.
  create: ({ ingestor, codec }) => new SqliteHistoryStore({ path, codec, ingestor }),
  commit: async (ingestor, block) => {
    const committer = new SqliteCommitter({ path });
    try {
      await committer.reset(ingestor, await committer.latest(ingestor), block);
    } finally {
      await committer.close();
    }
  },
  largestEntryBytes: 1024 * 1024,
});
