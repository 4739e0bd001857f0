/**
 * A commit can reach the store while its answer never reaches `run` (the lock lost with the commit
 * in flight, a request that failed after being applied). `run` settles it the next time it reads
 * the stored pointer, so what it reports adds up to what is stored.
 */
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  BackendUnavailableError,
  type Logger,
  MemoryCommitState,
  MemoryCommitter,
  MemoryLockServer,
  type Pointer,
  pointerToBigInt,
  pointerToHex,
  run,
  SequenceIngestor,
  sleep,
} from "../src/index.js";
import { PrometheusMetrics } from "../src/prometheus/index.js";
import { EventLog, fastRetries, memoryLock, noWriter, p, RecordingCommitter } from "./support.js";

const name = "sequence";

/**
 * Applies every commit, but the answer to the first one reaching `loseAt` is lost: `onApplied` runs
 * once the write is stored, then the commit either waits until its signal aborts (the lease lost
 * with the commit in flight) or fails at once like a dropped connection.
 */
function answerLosingCommitter(
  state: MemoryCommitState,
  loseAt: bigint,
  how: "until-aborted" | "fail",
  onApplied: () => void = () => {},
): RecordingCommitter {
  const committer = new RecordingCommitter(new MemoryCommitter({ state }));
  let armed = true;
  committer.afterCommit = async (block, options) => {
    if (!armed || pointerToBigInt(block) < loseAt) return;
    armed = false;
    onApplied();
    if (how === "fail") throw new BackendUnavailableError("memory committer: the answer was lost (simulated)");
    await sleep(60_000, options?.signal);
  };
  return committer;
}

/** What every run here shares: one block per commit up to `until`, so each commit stands alone. */
function runOptions(events: EventLog, until: number) {
  return {
    signal: AbortSignal.timeout(20_000),
    writer: noWriter,
    ingestor: new SequenceIngestor({ concurrency: 1 }),
    until: p(until),
    coalesce: false,
    onEvent: events.listener,
    ...fastRetries,
  };
}

/** Keeps the info lines a logger receives. */
function recordingLogger(): Logger & { infos: { fields: Record<string, unknown>; message: string }[] } {
  const infos: { fields: Record<string, unknown>; message: string }[] = [];
  return {
    infos,
    debug() {},
    info: (fields, message = "") => infos.push({ fields: fields as Record<string, unknown>, message }),
    warn() {},
    error() {},
  };
}

const blocksReported = (events: EventLog) => events.of("committed").reduce((sum, e) => sum + e.span, 0);

async function series(registry: Registry, metric: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${metric}{ingestor="${name}"} `));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

describe("run reconciles the stored pointer", () => {
  it("reports a commit applied just before the lock was lost as committed (late) once it re-acquires", async () => {
    const server = new MemoryLockServer();
    const lock = memoryLock(server);
    let heal: (() => void) | null = null;
    // Block 10 is stored, then the lock is cut off from its server before the answer arrives.
    const committer = answerLosingCommitter(new MemoryCommitState(), 10n, "until-aborted", () => {
      heal = lock.simulatePartition();
    });
    const events = new EventLog();
    const registry = new Registry();
    const logger = recordingLogger();
    const running = run({
      ...runOptions(events, 20),
      lock,
      committer,
      metrics: new PrometheusMetrics({ registry, ingestors: [name] }),
      logger,
    });
    await events.waitFor((e) => e.type === "lost");
    expect(blocksReported(events), "blocks reported when the lock was lost").toBe(9);
    (heal as (() => void) | null)?.();
    await running;

    const late = events.of("committed").filter((e) => e.late === true);
    expect(late.map((e) => [pointerToHex(e.parent), pointerToHex(e.block), e.span])).toEqual([
      [pointerToHex(p(9)), pointerToHex(p(10)), 1],
    ]);
    const order = events.events.map((e) => e.type);
    expect(order.lastIndexOf("acquired"), "re-acquired before the late report").toBeLessThan(
      events.events.indexOf(late[0] as (typeof events.events)[number]),
    );
    // What run reported adds up to what is stored: no block missing, none twice.
    expect(blocksReported(events)).toBe(20);
    expect(pointerToBigInt((await committer.latest(name)) as Pointer)).toBe(20n);
    expect(events.of("reconciled")).toEqual([]);
    expect(await series(registry, "tidemark_history_commits")).toBe(20);
    expect(await series(registry, "tidemark_history_late_commits")).toBe(1);
    expect(await series(registry, "tidemark_history_reconciliations")).toBe(0);
    const line = logger.infos.find((l) => l.message.includes("answer was lost"));
    expect(line?.fields).toMatchObject({ parent: pointerToHex(p(9)), block: pointerToHex(p(10)) });
  });

  it("reports a commit that failed after being applied as committed (late) when ingestion restarts", async () => {
    const committer = answerLosingCommitter(new MemoryCommitState(), 10n, "fail");
    const events = new EventLog();
    await run({ ...runOptions(events, 20), lock: memoryLock(new MemoryLockServer()), committer });
    expect(events.of("restart").length).toBe(1);
    expect(events.of("lost")).toEqual([]);
    expect(
      events
        .of("committed")
        .filter((e) => e.late === true)
        .map((e) => pointerToBigInt(e.block)),
    ).toEqual([10n]);
    expect(blocksReported(events)).toBe(20);
    expect(events.of("reconciled")).toEqual([]);
  });

  it("reports how far the pointer moved while another node held the lock, naming its own unsettled commit", async () => {
    const server = new MemoryLockServer();
    const state = new MemoryCommitState();
    const lockA = memoryLock(server);
    let heal: (() => void) | null = null;
    const committerA = answerLosingCommitter(state, 10n, "until-aborted", () => {
      heal = lockA.simulatePartition();
    });
    const eventsA = new EventLog();
    const eventsB = new EventLog();
    const registryA = new Registry();
    const logger = recordingLogger();
    const runningA = run({
      ...runOptions(eventsA, 30),
      lock: lockA,
      committer: committerA,
      metrics: new PrometheusMetrics({ registry: registryA }),
      logger,
    });
    await eventsA.waitFor((e) => e.type === "acquired");
    // B stands by, takes over once A's lease ran out, and goes on from block 10 (A's, applied) to 20.
    await run({
      ...runOptions(eventsB, 20),
      lock: memoryLock(server),
      committer: new MemoryCommitter({ state }),
    });
    expect(eventsA.of("lost").length).toBe(1);
    (heal as (() => void) | null)?.();
    await runningA;

    // A cannot tell its block 10 from B's 11..20: it reports the whole move, with its unsettled commit.
    const [reconciled, ...more] = eventsA.of("reconciled");
    expect(more).toEqual([]);
    expect(pointerToHex(reconciled?.known ?? null)).toBe(pointerToHex(p(9)));
    expect(pointerToHex(reconciled?.stored ?? null)).toBe(pointerToHex(p(20)));
    expect(reconciled?.unsettled && pointerToHex(reconciled.unsettled.block)).toBe(pointerToHex(p(10)));
    expect(eventsA.of("committed").some((e) => e.late === true)).toBe(false);
    // B's first read is where it starts, not a move it missed.
    expect(eventsB.of("reconciled")).toEqual([]);
    expect(blocksReported(eventsA) + blocksReported(eventsB)).toBe(29);
    expect(await series(registryA, "tidemark_history_reconciliations")).toBe(1);
    const line = logger.infos.find((l) => l.message.includes("moved beyond"));
    expect(line?.fields).toMatchObject({ known: pointerToHex(p(9)), stored: pointerToHex(p(20)) });
  });
});
