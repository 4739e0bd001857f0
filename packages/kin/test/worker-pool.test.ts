import { describe, expect, it } from "vitest";
import { WorkerCrashedError, WorkerPool } from "../src/solana/worker-pool.js";
import { workerThreads } from "./support/threads.js";

const script = new URL("./support/crashing-worker.mjs", import.meta.url);
type Echo = { id: number; echo: unknown; bytes: number };

describe("WorkerPool", () => {
  it("runs tasks on at most `size` threads, moves transferred buffers and terminates every thread on close", async () => {
    const before = workerThreads();
    const pool = new WorkerPool<Echo>({ script, size: 2, name: "test worker" });
    const signal = new AbortController().signal;
    const bytes = new Uint8Array(1024);
    const results = await Promise.all([
      pool.run({ value: 1, bytes }, [bytes.buffer], signal),
      ...[2, 3, 4, 5].map((value) => pool.run({ value, delayMs: 20 }, [], signal)),
    ]);
    expect(results.map((r) => r.echo)).toEqual([1, 2, 3, 4, 5]);
    expect(results[0]?.bytes).toBe(1024);
    // Moved, not copied: the sender's view is detached.
    expect(bytes.byteLength).toBe(0);
    expect(pool.threads).toBe(2);
    expect(workerThreads() - before).toBe(2);
    await pool.close();
    expect(pool.threads).toBe(0);
    expect(workerThreads()).toBe(before);
    await expect(pool.run({ value: 6 }, [], signal)).rejects.toThrow(/pool is closed/);
  });

  it.each(["throw", "exit"] as const)(
    "fails only the task of a thread that dies (%s) and replaces the thread",
    async (die) => {
      const pool = new WorkerPool<Echo>({ script, size: 2, name: "test worker" });
      const signal = new AbortController().signal;
      const slow = pool.run({ value: "slow", delayMs: 200 }, [], signal);
      const dying = pool.run({ die }, [], signal);
      const error = await dying.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect((error as Error).message).toMatch(
        die === "throw"
          ? /test worker thread died during a task: worker blew up/
          : /test worker thread died during a task: it exited with code 7/,
      );
      expect((await slow).echo).toBe("slow");
      // The next tasks get a new thread in place of the dead one.
      const after = await Promise.all([1, 2, 3].map((value) => pool.run({ value }, [], signal)));
      expect(after.map((r) => r.echo)).toEqual([1, 2, 3]);
      expect(pool.threads).toBe(2);
      await pool.close();
      expect(pool.threads).toBe(0);
    },
  );

  it("drops a queued task when its signal aborts and lets close wait for the running one", async () => {
    const pool = new WorkerPool<Echo>({ script, size: 1, name: "test worker" });
    const controller = new AbortController();
    const running = pool.run({ value: "running", delayMs: 150 }, [], controller.signal);
    const queued = pool.run({ value: "queued" }, [], controller.signal);
    controller.abort(new Error("session over"));
    await expect(queued).rejects.toThrow("session over");
    const closed = pool.close();
    expect((await running).echo).toBe("running");
    await closed;
    expect(pool.threads).toBe(0);
  });

  it("refuses a worker script that is not there, naming it", () => {
    expect(
      () => new WorkerPool<Echo>({ script: new URL("./missing.mjs", script), size: 1, name: "test worker" }),
    ).toThrow(/test worker: the worker script .*missing\.mjs is missing/);
  });
});
