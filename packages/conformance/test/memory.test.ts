import {
  MemoryCommitState,
  MemoryCommitter,
  MemoryHistoryStore,
  MemoryLock,
  MemoryLockServer,
  SequenceIngestor,
  sequenceCodec,
} from "@tidemark/core";
import { describeCommitter, describeHistoryStore, describeIngestor, describeLock } from "../src/index.js";

// The reference run: the kit against core's in-memory parts.
const commits = new MemoryCommitState();
const locks = new MemoryLockServer();
const readRaw = async (ingestor: string) => commits.records.get(ingestor)?.latest ?? null;

describeCommitter("memory", {
  create: () => new MemoryCommitter({ state: commits }),
  readRaw,
});

describeLock("memory", {
  create: (key) => new MemoryLock({ server: locks, key, leaseMs: 1500, heartbeatMs: 500, pollMs: 50 }),
  crash: (lock) => (lock as MemoryLock).simulateCrash(),
  forceLoss: (key) => locks.revoke(key),
  cutOff: (lock) => (lock as MemoryLock).simulatePartition(),
  lastRenewedAt: (lock) => (lock as MemoryLock).lastRenewedAt,
  leaseMs: 1500,
  heartbeatMs: 500,
  pollMs: 50,
  createCommitter: () => new MemoryCommitter({ state: commits }),
  readRaw,
});

describeIngestor("sequence", {
  create: () => new SequenceIngestor({ bound: 16, concurrency: 4 }),
  codec: sequenceCodec,
  bound: 16,
  inFlight: 4,
});

// History: the in-memory store, its visibility following a committer on the same state.
const historyCommits = new MemoryCommitState();
describeHistoryStore("memory", {
  create: ({ ingestor, codec }) =>
    new MemoryHistoryStore({ codec, committed: () => new MemoryCommitter({ state: historyCommits }).latest(ingestor) }),
  commit: async (ingestor, block) => {
    const committer = new MemoryCommitter({ state: historyCommits });
    await committer.reset(ingestor, await committer.latest(ingestor), block);
  },
});
