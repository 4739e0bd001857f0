// Blocks per second through `run` with the in-memory parts, measured side by
// side in one process: an instant committer, then one that takes 10 ms per
// write (a remote database), each with commit coalescing off and on.
import {
  MemoryCommitter,
  MemoryLock,
  MemoryLockServer,
  pointerFromNumber,
  run,
  SequenceIngestor,
  sleep,
} from "@tidemark/core";

class SlowCommitter extends MemoryCommitter {
  constructor(delayMs) {
    super();
    this.delayMs = delayMs;
  }
  async commit(...args) {
    await sleep(this.delayMs);
    return super.commit(...args);
  }
}

async function blocksPerSecond({ blocks, coalesce, commitDelayMs }) {
  const committer = commitDelayMs > 0 ? new SlowCommitter(commitDelayMs) : new MemoryCommitter();
  let writes = 0;
  const started = performance.now();
  await run({
    signal: AbortSignal.timeout(300_000),
    lock: new MemoryLock({ server: new MemoryLockServer(), key: "bench" }),
    committer,
    writer: { write: async () => {} },
    ingestor: new SequenceIngestor({ concurrency: 8, entriesPerBlock: 0 }),
    until: pointerFromNumber(blocks),
    coalesce,
    onEvent: (event) => {
      if (event.type === "committed") writes++;
    },
  });
  const seconds = (performance.now() - started) / 1000;
  return { rate: blocks / seconds, writes };
}

const fmt = (n) => n.toFixed(0);
const instantOff = await blocksPerSecond({ blocks: 50_000, coalesce: false, commitDelayMs: 0 });
const instantOn = await blocksPerSecond({ blocks: 50_000, coalesce: true, commitDelayMs: 0 });
const slowOff = await blocksPerSecond({ blocks: 300, coalesce: false, commitDelayMs: 10 });
const slowOn = await blocksPerSecond({ blocks: 20_000, coalesce: true, commitDelayMs: 10 });

console.log(`run_instant_committer_coalescing_off: ${fmt(instantOff.rate)} blocks/s`);
console.log(`run_instant_committer_coalescing_on: ${fmt(instantOn.rate)} blocks/s`);
console.log(
  `run_10ms_committer_coalescing_off: ${fmt(slowOff.rate)} blocks/s (${slowOff.writes} writes for 300 blocks)`,
);
console.log(
  `run_10ms_committer_coalescing_on: ${fmt(slowOn.rate)} blocks/s (${slowOn.writes} writes for 20000 blocks)`,
);
console.log(`coalescing_speedup_10ms_committer: ${(slowOn.rate / slowOff.rate).toFixed(1)} x (target >= 10)`);
