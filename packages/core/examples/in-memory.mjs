// Two nodes follow one simulated chain with the in-memory parts: node A holds
// the lock and commits; halfway through it dies without releasing the lock,
// node B takes over once A's lease runs out and carries on from the committed
// pointer. Every block ends up committed exactly once.
import {
  MemoryCommitState,
  MemoryCommitter,
  MemoryHistoryStore,
  MemoryLock,
  MemoryLockServer,
  pointerFromNumber,
  pointerToBigInt,
  run,
  SequenceIngestor,
  sequenceCodec,
} from "@tidemark/core";

const lastBlock = 120n;
const locks = new MemoryLockServer();
const commits = new MemoryCommitState();
const committer = new MemoryCommitter({ state: commits });
const history = new MemoryHistoryStore({ codec: sequenceCodec, committed: () => committer.latest("demo-chain") });
const interrupted = new AbortController();
process.once("SIGINT", () => interrupted.abort(new Error("interrupted")));

function node(name) {
  const controller = new AbortController();
  const signal = AbortSignal.any([controller.signal, interrupted.signal]);
  const lock = new MemoryLock({ server: locks, key: "demo-lock", leaseMs: 1500, heartbeatMs: 500, pollMs: 100 });
  const done = run({
    signal,
    lock,
    committer: new MemoryCommitter({ state: commits }),
    writer: history,
    ingestor: new SequenceIngestor({ name: "demo-chain", delayMs: 25, concurrency: 2, entriesPerBlock: 3 }),
    until: pointerFromNumber(lastBlock),
    onEvent(event) {
      if (event.type === "committed") {
        const from = event.parent === null ? 0n : pointerToBigInt(event.parent);
        console.log(
          `${name}: committed blocks ${from + 1n}..${pointerToBigInt(event.block)} (${event.span} in one write)`,
        );
        if (name === "node A" && pointerToBigInt(event.block) >= lastBlock / 2n && !controller.signal.aborted) {
          console.log(`${name}: dies here (no more renewals, and it never releases the lock)`);
          lock.simulateCrash();
          lock.unlock = async () => {};
          controller.abort(new Error("node A died"));
        }
      } else if (event.type === "acquired") {
        console.log(`${name}: acquired the lock (fencing token ${event.token})`);
      }
    },
  });
  return { done };
}

const a = node("node A");
await new Promise((resolve) => setTimeout(resolve, 200));
const b = node("node B");
await a.done.catch((error) => console.log(`node A stopped: ${error.message}; node B waits out its lease`));
await b.done;
const latest = pointerToBigInt(await committer.latest("demo-chain"));
console.log(`\ncommitted pointer: block ${latest}; ${history.size} transactions stored; writes: ${commits.writes}`);
if (latest !== lastBlock || history.size !== Number(lastBlock) * 3) process.exitCode = 1;
