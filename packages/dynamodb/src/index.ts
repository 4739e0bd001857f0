export { DynamoDbCommitter } from "./committer.js";
export { formatGoDuration, parseGoDuration } from "./go-duration.js";
export { HISTORY_PARTITION_BLOCKS, partitionOf } from "./history-layout.js";
export { DynamoDbHistoryStore } from "./history-store.js";
export { type CreateHistoryTablesOptions, createHistoryTables } from "./history-tables.js";
export { type DynamoDbLease, isDynamoDbLease } from "./lease.js";
export { DynamoDbLock } from "./lock.js";
export {
  type BatchRetryOptions,
  DEFAULT_ACCOUNTS_TABLE,
  DEFAULT_COMMITS_TABLE,
  DEFAULT_HISTORY_TABLE,
  DEFAULT_LOCK_LEASE_MS,
  DEFAULT_LOCKS_TABLE,
  DEFAULT_TRANSACTIONS_TABLE,
  type DynamoDbCommitterOptions,
  type DynamoDbHistoryStoreOptions,
  type DynamoDbLockOptions,
} from "./options.js";
export { COMMITS_HASH_KEY, type CreateTablesOptions, createTables, LOCKS_HASH_KEY } from "./tables.js";
