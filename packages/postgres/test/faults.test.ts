import { sleep } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acknowledged,
  createFaultSchema,
  expectCleanChain,
  type FaultSchema,
  type Runner,
  startFleet,
  waitForBlock,
} from "./support/fleet.js";
import { openPool, url } from "./support/postgres.js";

// Faults a server causes while staying up, each during a two-runner `run` on the suite's server.
// After each: the server's audit shows no gap, no duplicate, and no write after lock loss.
const BLOCKS = 1200;
const pool = openPool();
let schema: FaultSchema;
beforeAll(async () => {
  schema = await createFaultSchema(pool, "faults");
});
afterAll(() => schema?.drop());

function holderOf(runners: readonly Runner[]): Runner {
  const holder = runners.find((runner) => runner.lock.lease !== null && !runner.lock.lease.signal.aborted);
  if (holder === undefined) throw new Error("nobody holds the lock");
  return holder;
}

async function waitForHolder(runners: readonly Runner[], signal: AbortSignal): Promise<Runner> {
  while (true) {
    try {
      return holderOf(runners);
    } catch {
      await sleep(10, signal);
    }
  }
}

describe("faults during a two-runner run", () => {
  it("survives pg_terminate_backend on the holder's connections, three times", async () => {
    const signal = AbortSignal.timeout(120_000);
    const { ingestor, runners } = await startFleet({ url, schema, blocks: BLOCKS, signal });
    const victims: string[] = [];
    for (const at of [200n, 500n, 800n]) {
      await waitForBlock(runners, at, signal);
      const holder = await waitForHolder(runners, signal);
      const { rows } = await pool.query<{ terminated: boolean }>(
        "SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1",
        [holder.name],
      );
      expect(rows.length, `backends of ${holder.name}`).toBeGreaterThan(0);
      expect(rows.every((row) => row.terminated)).toBe(true);
      victims.push(holder.name);
    }
    await Promise.all(runners.map((runner) => runner.done));
    await expectCleanChain(schema, ingestor, runners, BLOCKS);
    expect(victims).toHaveLength(3);
  });

  it("survives statement timeouts on commits and renewals held up by row locks", async () => {
    const signal = AbortSignal.timeout(120_000);
    const withTimeout = new URL(url);
    withTimeout.searchParams.set("options", "-c statement_timeout=300");
    const { ingestor, key, runners } = await startFleet({
      url: withTimeout.toString(),
      schema,
      blocks: BLOCKS,
      signal,
    });
    const blocker = await pool.connect();
    try {
      for (const [at, table, column, value] of [
        [300n, schema.commitsTable, "ingestor", ingestor],
        [700n, schema.locksTable, "key", key],
      ] as const) {
        await waitForBlock(runners, at, signal);
        // A long transaction holding the row: every statement on it waits, and is cancelled after 300 ms.
        await blocker.query("BEGIN");
        await blocker.query(`SELECT 1 FROM ${table} WHERE ${column} = $1 FOR UPDATE`, [value]);
        await sleep(1500);
        await blocker.query("COMMIT");
      }
    } finally {
      blocker.release();
    }
    await Promise.all(runners.map((runner) => runner.done));
    const timedOut = runners
      .flatMap((runner) => runner.committer.attempts)
      .filter((attempt) => /statement timeout/.test(attempt.error ?? ""));
    expect(timedOut.length, "commits cancelled by statement_timeout").toBeGreaterThan(0);
    expect(timedOut.every((attempt) => attempt.outcome === "unknown")).toBe(true);
    await expectCleanChain(schema, ingestor, runners, BLOCKS);
  });

  it("rejects the fenced commit of a holder paused past its lease, after a contender took over", async () => {
    const signal = AbortSignal.timeout(120_000);
    const { ingestor, runners } = await startFleet({ url, schema, blocks: BLOCKS, signal });
    await waitForBlock(runners, 300n, signal);
    const paused = await waitForHolder(runners, signal);
    const contender = runners.find((runner) => runner !== paused) as Runner;
    const oldToken = paused.lock.lease?.token as bigint;
    // The process stops: no renewals, its lease signal untouched, and its next commit held before sending.
    let resume = () => {};
    paused.committer.gate = new Promise<void>((resolve) => {
      resume = resolve;
    });
    paused.lock.freeze();
    // The contender waits the lease out, takes over and commits.
    while (!contender.committer.attempts.some((a) => a.outcome === "acknowledged" && (a.token ?? 0n) > oldToken)) {
      await sleep(20, signal);
    }
    const before = acknowledged(runners);
    paused.committer.gate = null;
    resume();
    await Promise.all(runners.map((runner) => runner.done));
    const late = paused.committer.attempts.find((attempt) => attempt.gated);
    expect(late, "the paused holder's commit").toBeDefined();
    expect(late?.token).toBe(oldToken);
    expect(late?.outcome).toBe("refused");
    expect(late?.error).toMatch(/^LockLostError: .*its lease is superseded/);
    expect(late?.block ?? 0n, "its block was one the contender had already moved past").toBeLessThanOrEqual(
      before + 1n,
    );
    await expectCleanChain(schema, ingestor, runners, BLOCKS);
  });
});
