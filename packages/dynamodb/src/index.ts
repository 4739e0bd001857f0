export { DynamoDbCommitter } from "./committer.js";
export { formatGoDuration, parseGoDuration } from "./go-duration.js";
export { type DynamoDbLease, isDynamoDbLease } from "./lease.js";
export { DynamoDbLock } from "./lock.js";
export {
  DEFAULT_COMMITS_TABLE,
  DEFAULT_LOCK_LEASE_MS,
  DEFAULT_LOCKS_TABLE,
  type DynamoDbCommitterOptions,
  type DynamoDbLockOptions,
} from "./options.js";
export { COMMITS_HASH_KEY, type CreateTablesOptions, createTables, LOCKS_HASH_KEY } from "./tables.js";
