import { type DistributedLock, type Lease, MemoryCommitState, MemoryCommitter } from "@tidemark/core";
import { describeLock } from "../../src/index.js";

/** A lock that grants everything at once and never loses anything: the kit must catch it. */
class NoopLock implements DistributedLock {
  async lock(): Promise<Lease> {
    return { signal: new AbortController().signal, token: null };
  }
  async unlock(): Promise<void> {}
  async close(): Promise<void> {}
}

const commits = new MemoryCommitState();

describeLock("noop", {
  create: () => new NoopLock(),
  crash: () => {},
  forceLoss: () => {},
  cutOff: () => () => {},
  leaseMs: 1000,
  heartbeatMs: 300,
  pollMs: 50,
  createCommitter: () => new MemoryCommitter({ state: commits }),
  readRaw: async (ingestor) => commits.records.get(ingestor)?.latest ?? null,
});
