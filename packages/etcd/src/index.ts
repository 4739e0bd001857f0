export { EtcdCommitter } from "./committer.js";
export { createEtcdClient } from "./connection.js";
export { type EtcdLease, isEtcdLease } from "./fencing.js";
export { EtcdLock } from "./lock.js";
export type { EtcdCommitterOptions, EtcdConnectionOptions, EtcdLockOptions } from "./options.js";
