export {
  committerAmbiguity,
  committerBasics,
  committerConcurrency,
  committerIsolation,
  committerLifecycle,
  committerPointers,
  committerRejections,
  committerReset,
  describeCommitter,
} from "./committer-suite.js";
export {
  describeHistoryStore,
  historyConcurrency,
  historyLimits,
  historyReads,
  historyVisibility,
  historyWrites,
} from "./history-suite.js";
export {
  describeIngestor,
  ingestorAbort,
  ingestorBuffer,
  ingestorChain,
  ingestorWritesFirst,
} from "./ingestor-suite.js";
export { type Interval, overlaps } from "./intervals.js";
export { type KitEntry, kitCodec, kitOrderingKey } from "./kit-entries.js";
export {
  describeLock,
  lockBasics,
  lockContention,
  lockFencing,
  lockSafety,
  lockTakeover,
  lockWaiting,
} from "./lock-suite.js";
export { uniqueName } from "./names.js";
export type {
  CommitterSuiteOptions,
  HistoryStoreSuiteOptions,
  IngestorSuiteOptions,
  LockSuiteOptions,
  RawPointerReader,
} from "./options.js";
