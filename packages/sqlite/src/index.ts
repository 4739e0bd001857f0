export type { DatabaseSource } from "./database.js";
export { defaultTables, type TableNames } from "./schema.js";
export { SqliteCommitter, type SqliteCommitterOptions } from "./sqlite-committer.js";
export { SqliteHistoryStore, type SqliteHistoryStoreOptions } from "./sqlite-history-store.js";
export { SqliteLock, type SqliteLockOptions } from "./sqlite-lock.js";
