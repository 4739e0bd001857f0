/**
 * Every heartbeat lock (SQLite, DynamoDB, MongoDB, PostgreSQL) runs on the LeaseLock engine, as the
 * memory lock does: after an outage longer than the lease, the node that lost the lock must take it
 * again as soon as the backend answers, not wait out the record its own lost holding left behind.
 */
import { describe, expect, it } from "vitest";
import { MemoryCommitter, MemoryLock, MemoryLockServer, run, SequenceIngestor, sleep } from "../src/index.js";
import { committedUpTo, EventLog, noWriter } from "./support.js";

describe("run after a backend outage", () => {
  it("re-acquires within a heartbeat and a poll of the backend answering again, after an outage longer than the lease", async () => {
    const lock = new MemoryLock({
      server: new MemoryLockServer(),
      key: "ingestor_history_outage",
      leaseMs: 3000,
      heartbeatMs: 1000,
      pollMs: 50,
    });
    const events = new EventLog();
    const controller = new AbortController();
    const running = run({
      signal: controller.signal,
      lock,
      committer: new MemoryCommitter(),
      writer: noWriter,
      ingestor: new SequenceIngestor({ delayMs: 5, concurrency: 1 }),
      onEvent: events.listener,
      // run's own pause between failed lock attempts is not what this measures.
      lockRetryMs: 100,
    });
    try {
      await events.waitFor(committedUpTo(5n));
      const cutAt = performance.now();
      const heal = lock.simulatePartition();
      await events.waitFor((e) => e.type === "error" && e.stage === "unlock");
      // The lost holding's record is still there, unreleased: its release could not reach the server.
      await sleep(Math.max(0, cutAt + lock.timings.leaseMs + 500 - performance.now()));
      const acquisitions = events.of("acquired").length;
      heal();
      const healedAt = performance.now();
      await events.waitFor((e) => e.type === "acquired" && events.of("acquired").length > acquisitions);
      const { heartbeatMs, pollMs } = lock.timings;
      expect(performance.now() - healedAt, "ms from the heal to the next acquisition").toBeLessThanOrEqual(
        heartbeatMs + pollMs + 1000,
      );
      await events.waitFor(committedUpTo(10n));
    } finally {
      controller.abort(new Error("done"));
      await running.catch(() => {});
    }
  });
});
