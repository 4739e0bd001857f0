export { DEFAULT_COMMIT_COLLECTION, MongoCommitter } from "./committer.js";
export { HISTORY_INDEXES } from "./history-indexes.js";
export { DEFAULT_HISTORY_COLLECTION, MongoHistoryStore } from "./history-store.js";
export { DEFAULT_LOCK_COLLECTION, type MongoLease, MongoLock } from "./lock.js";
export type {
  MongoCommitterOptions,
  MongoConnectionOptions,
  MongoHistoryStoreOptions,
  MongoLockOptions,
} from "./options.js";
