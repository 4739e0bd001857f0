export { DeadlineError, isAbortFrom, raceAbort, sleep, withDeadline } from "./abort.js";
export { type BackoffOptions, backoffDelay, withJitter } from "./backoff.js";
export {
  BoundedResultQueue,
  type BoundedResultQueueOptions,
  DEFAULT_RESULT_QUEUE_BOUND,
} from "./bounded-result-queue.js";
export { assertIngestorName, parentMismatch, validateCommit, validateReset } from "./commit-rules.js";
export type { CommitOptions, Committer, ReadOptions } from "./committer.js";
export { encodedCodec } from "./encoded-codec.js";
export {
  BackendUnavailableError,
  ConfigurationError,
  CorruptRecordError,
  DoubleInsertError,
  InvalidArgumentError,
  InvalidCommitError,
  isTidemarkError,
  LockLostError,
  TidemarkError,
} from "./errors.js";
export type { RunEvent, RunEventListener, RunStage, UnsettledCommit } from "./events.js";
export { reconcileEntries } from "./history-rules.js";
export type { Ingestor } from "./ingestor.js";
export { LeaseHolding, type LeaseHoldingSettings, type OwnedLease } from "./lease-holding.js";
export { LeaseLock, type LeaseLockOptions } from "./lease-lock.js";
export type { LeaseClaim, LeaseRecord, LeaseRecordStore } from "./lease-record-store.js";
export {
  DEFAULT_LEASE_MS,
  type LeaseTimingOptions,
  type LeaseTimings,
  resolveLeaseTimings,
} from "./lease-timings.js";
export type { DistributedLock, Lease, LockState } from "./lock.js";
export { type Logger, silentLogger } from "./logger.js";
export { MemoryCommitState, MemoryCommitter, type MemoryCommitterOptions } from "./memory/memory-committer.js";
export { MemoryHistoryStore, type MemoryHistoryStoreOptions } from "./memory/memory-history-store.js";
export { MemoryLock, type MemoryLockOptions, MemoryLockServer } from "./memory/memory-lock.js";
export {
  type SequenceEntry,
  SequenceIngestor,
  type SequenceIngestorOptions,
  sequenceCodec,
} from "./memory/sequence-ingestor.js";
export type { Metrics } from "./metrics.js";
export {
  assertPointer,
  assertPointerOrNull,
  comparePointers,
  copyPointer,
  type Pointer,
  pointerFromHex,
  pointerFromNumber,
  pointersEqual,
  pointerToBigInt,
  pointerToHex,
} from "./pointer.js";
export type { Result, ResultQueue } from "./result.js";
export { type RunOptions, run } from "./run.js";
export { PendingWrite, TurnBatcher, type TurnBatcherOptions } from "./turn-batcher.js";
export {
  type BlockRange,
  type CommittedRange,
  inRange,
  isVisible,
  limitHidden,
  type Visibility,
  visibilityOf,
} from "./visibility.js";
export type {
  AccountHistoryQuery,
  HistoryCodec,
  HistoryReader,
  HistoryStore,
  WriteOptions,
  Writer,
} from "./writer.js";
