export { PostgresCommitter, type PostgresCommitterOptions } from "./committer.js";
export { type Connection, connect, describeServer, type PostgresConnectionOptions } from "./connection.js";
export { mapPgError } from "./errors.js";
export type { PostgresHistoryStoreOptions } from "./history-options.js";
export {
  checkHistorySchema,
  createHistorySchema,
  DEFAULT_HISTORY_ACCOUNT_TABLE,
  DEFAULT_HISTORY_TABLE,
  type HistoryTableNames,
  historySchemaSql,
} from "./history-schema.js";
export { PostgresHistoryStore } from "./history-store.js";
export { quoteTable } from "./identifiers.js";
export { type PostgresLease, PostgresLock, type PostgresLockOptions } from "./lock.js";
export {
  checkSchema,
  createSchema,
  DEFAULT_COMMITS_TABLE,
  DEFAULT_LOCKS_TABLE,
  DEFAULT_TOKEN_SEQUENCE,
  type SchemaNames,
  schemaSql,
} from "./schema.js";
