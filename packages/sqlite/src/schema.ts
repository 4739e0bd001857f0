import type { DatabaseSync } from "node:sqlite";

/** Table names, all configurable so several deployments can share a file. */
export interface TableNames {
  readonly commits: string;
  readonly locks: string;
  readonly lockTokens: string;
  readonly history: string;
  readonly historyAccounts: string;
}

export const defaultTables: TableNames = {
  commits: "tidemark_commits",
  locks: "tidemark_locks",
  lockTokens: "tidemark_lock_tokens",
  history: "tidemark_history",
  historyAccounts: "tidemark_history_accounts",
};

// BLOB comparison in SQLite is memcmp, then length: exactly the pointer order (a shorter prefix first).
export function createCommitTable(db: DatabaseSync, table: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (
    ingestor TEXT PRIMARY KEY NOT NULL,
    latest BLOB,
    fence INTEGER
  ) STRICT`);
}

export function createLockTables(db: DatabaseSync, locks: string, tokens: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${locks} (
    key TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    version TEXT NOT NULL,
    lease_ms INTEGER NOT NULL,
    token INTEGER NOT NULL,
    released INTEGER NOT NULL DEFAULT 0
  ) STRICT`);
  // Kept apart from the lock row so tokens keep increasing even when a row is deleted.
  db.exec(`CREATE TABLE IF NOT EXISTS ${tokens} (
    key TEXT PRIMARY KEY NOT NULL,
    token INTEGER NOT NULL
  ) STRICT`);
}

export function createHistoryTables(db: DatabaseSync, history: string, accounts: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${history} (
    ingestor TEXT NOT NULL,
    tx_id BLOB NOT NULL,
    block BLOB NOT NULL,
    ordering_key BLOB NOT NULL,
    entry BLOB NOT NULL,
    PRIMARY KEY (ingestor, tx_id)
  ) STRICT, WITHOUT ROWID`);
  db.exec(`CREATE INDEX IF NOT EXISTS ${history}_by_block ON ${history} (ingestor, block, ordering_key)`);
  db.exec(`CREATE TABLE IF NOT EXISTS ${accounts} (
    ingestor TEXT NOT NULL,
    account TEXT NOT NULL,
    ordering_key BLOB NOT NULL,
    tx_id BLOB NOT NULL,
    PRIMARY KEY (ingestor, account, ordering_key, tx_id)
  ) STRICT, WITHOUT ROWID`);
}
