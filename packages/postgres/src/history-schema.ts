import { ConfigurationError } from "@tidemark/core";
import type pg from "pg";
import { mapPgError } from "./errors.js";
import { inTransaction } from "./history-transaction.js";
import { quoteTable } from "./identifiers.js";
import { type ExpectedTable, shapeProblem, TABLE_SHAPE_SQL, type TableShape } from "./table-shape.js";

export const DEFAULT_HISTORY_TABLE = "tidemark_history";
export const DEFAULT_HISTORY_ACCOUNT_TABLE = "tidemark_history_accounts";

/** The two history tables; names as given (validated and quoted where used). */
export interface HistoryTableNames {
  /** Entries, one row per (ingestor, transaction) (default `tidemark_history`). */
  readonly table?: string;
  /** The account index, one row per (ingestor, account, entry) (default `tidemark_history_accounts`). */
  readonly accountTable?: string;
}

// bytea compares as unsigned bytes with a shorter prefix first: exactly tidemark's pointer and
// ordering-key order, so `block <= latest` and the cursors are plain comparisons.
const ENTRY_TABLE: ExpectedTable = {
  what: "table",
  columns: { ingestor: "text", tx_id: "bytea", block: "bytea", ordering_key: "bytea", entry: "bytea" },
  primaryKey: ["ingestor", "tx_id"],
};
const ACCOUNT_TABLE: ExpectedTable = {
  what: "table",
  columns: { ingestor: "text", account: "text", ordering_key: "bytea", tx_id: "bytea" },
  primaryKey: ["ingestor", "account", "ordering_key", "tx_id"],
};

/** Both tables as quoted identifiers, with the index name derived from the entry table. */
export function historyTables(names: HistoryTableNames = {}) {
  const table = names.table ?? DEFAULT_HISTORY_TABLE;
  const accountTable = names.accountTable ?? DEFAULT_HISTORY_ACCOUNT_TABLE;
  const history = quoteTable(table, "history table");
  const accounts = quoteTable(accountTable, "history account table");
  // An index lives in its table's schema, so its name is never qualified; 63 bytes at most.
  const blockIndex = `"${`${table.split(".").at(-1)}`.slice(0, 63 - "_by_block".length)}_by_block"`;
  return { table, accountTable, history, accounts, blockIndex };
}

/** The history tables as plain SQL, for a DBA's migration (what `createHistorySchema` runs). */
export function historySchemaSql(names: HistoryTableNames = {}): string {
  const { history, accounts, blockIndex } = historyTables(names);
  // COLLATE "C": ingestor and account are only compared for equality, bytewise, whatever the database's locale.
  return `CREATE TABLE IF NOT EXISTS ${history} (
  ingestor text COLLATE "C" NOT NULL,
  tx_id bytea NOT NULL,
  block bytea NOT NULL,
  ordering_key bytea NOT NULL,
  entry bytea NOT NULL,
  PRIMARY KEY (ingestor, tx_id)
);
CREATE INDEX IF NOT EXISTS ${blockIndex} ON ${history} (ingestor, block, ordering_key);
CREATE TABLE IF NOT EXISTS ${accounts} (
  ingestor text COLLATE "C" NOT NULL,
  account text COLLATE "C" NOT NULL,
  ordering_key bytea NOT NULL,
  tx_id bytea NOT NULL,
  PRIMARY KEY (ingestor, account, ordering_key, tx_id)
);`;
}

/**
 * Creates the entry table, its block index and the account table unless they
 * exist, then checks that what exists has the expected shape. Idempotent and
 * safe to run from several processes at once (they are serialised by a
 * transaction-scoped advisory lock: concurrent `CREATE TABLE IF NOT EXISTS`
 * can otherwise fail on the catalog's unique index).
 */
export async function createHistorySchema(pool: pg.Pool, names: HistoryTableNames = {}): Promise<void> {
  const { table, accountTable, history, accounts } = historyTables(names);
  const sql = historySchemaSql(names);
  const subject = `postgres history store creating tables "${table}" and "${accountTable}"`;
  await inTransaction(pool, subject, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('tidemark history schema'))");
    // A table of another shape is reported before anything is created beside it.
    await checkTable(client, table, history, ENTRY_TABLE, { missing: "ok" });
    await checkTable(client, accountTable, accounts, ACCOUNT_TABLE, { missing: "ok" });
    await client.query(sql);
  });
  await checkHistorySchema(pool, names);
}

/**
 * Checks that both tables exist with the columns and primary keys the store
 * uses; `ConfigurationError` naming the table and the column otherwise.
 */
export async function checkHistorySchema(pool: pg.Pool, names: HistoryTableNames = {}): Promise<void> {
  const { table, accountTable, history, accounts } = historyTables(names);
  await checkTable(pool, table, history, ENTRY_TABLE);
  await checkTable(pool, accountTable, accounts, ACCOUNT_TABLE);
}

async function checkTable(
  db: pg.Pool | pg.PoolClient,
  name: string,
  quoted: string,
  expected: ExpectedTable,
  options: { missing?: "ok" } = {},
): Promise<void> {
  const subject = `postgres history store checking table "${name}"`;
  let found: TableShape | undefined;
  try {
    found = (await db.query<TableShape>(TABLE_SHAPE_SQL, [quoted])).rows[0];
  } catch (error) {
    throw mapPgError(error, subject);
  }
  if (found === undefined) {
    if (options.missing === "ok") return;
    throw new ConfigurationError(
      `postgres history store: table "${name}" does not exist; create it with createHistorySchema() (or the SQL in the README)`,
    );
  }
  const problem = shapeProblem(name, found, expected);
  if (problem !== null) throw new ConfigurationError(`postgres history store: ${problem}`);
}
