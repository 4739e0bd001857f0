export { DEFAULT_COMMIT_COLLECTION, MongoCommitter } from "./committer.js";
export { DEFAULT_LOCK_COLLECTION, type MongoLease, MongoLock } from "./lock.js";
export type { MongoCommitterOptions, MongoConnectionOptions, MongoLockOptions } from "./options.js";
