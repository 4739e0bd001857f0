// CPU per block on mainnet-shaped blocks: a separate `tidemark simulate --shape mainnet` process
// serves about 1,200 transactions a block (three quarters votes, a few Kin transfers); `tidemark run`
// ingests them into SQLite. The ingesting process's CPU time (user + system of all its threads, the
// worker threads included, read from /proc) is divided by the blocks; the simulator's own CPU is not
// counted. MAINNET_ROUNDS interleaved pairs of MAINNET_BLOCKS blocks (default 3 of 2,000) compare
// the worker pool on (one thread per core, the default) with off (--workers 0); then one round of
// MAINNET_LONG_BLOCKS (default 20,000; 0 skips it) with the defaults shows the peak RSS of a long run.
// The simulator repeats the traffic around the Kin transfers every 16 blocks (`--repeat-every`), so it
// costs a few ms a block instead of a core of its own beside the ingestor on a 2-core machine; its CPU
// per block is printed too. Prints the medians.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const blocks = Number(process.env.MAINNET_BLOCKS ?? 2_000);
const rounds = Number(process.env.MAINNET_ROUNDS ?? 3);
const longBlocks = Number(process.env.MAINNET_LONG_BLOCKS ?? 20_000);
const cores = availableParallelism();
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tidemark-mainnet-cpu-"));
// What `tidemark`'s own first line starts Node with: `#!/usr/bin/env -S [NAME=VALUE ...] node [flags]`.
const SHEBANG = readFileSync(bin, "utf8")
  .split("\n")[0]
  .replace(/^#!\/usr\/bin\/env -S\s*/, "")
  .split(/\s+/);
const NODE_ENV_VARS = Object.fromEntries(
  SHEBANG.slice(0, SHEBANG.indexOf("node")).map((assignment) => assignment.split("=", 2)),
);
const NODE_FLAGS = SHEBANG.slice(SHEBANG.indexOf("node") + 1).filter(Boolean);
// Linux reports process CPU time in clock ticks of 1/100 s.
const TICK_MS = 10;

function start(args) {
  const child = spawn(process.execPath, [...NODE_FLAGS, bin, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...NODE_ENV_VARS },
  });
  const orphaned = () => child.kill("SIGKILL");
  process.once("exit", orphaned);
  child.once("exit", () => process.off("exit", orphaned));
  return { child, lines: createInterface({ input: child.stdout }) };
}

/** User + system CPU time of a live process, in ms. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function rssMiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}

/** Ingests the simulator's whole backlog once with `--workers <workers>` (default: the ingestor's). */
async function ingestRound(served, count, workers) {
  const simulatorCpu = cpuMs(served.pid);
  const first = BigInt(served.firstSlot);
  const last = BigInt(served.lastSlot);
  const db = join(dir, `mainnet-${Math.random().toString(36).slice(2)}.db`);
  const ingest = start([
    "run",
    "--rpc",
    served.rpc,
    "--store",
    `sqlite:${db}`,
    "--from",
    String(first - 1n),
    "--until",
    String(last),
    "--status",
    "off",
    "--log-level",
    "warn",
    ...(workers === undefined ? [] : ["--workers", String(workers)]),
  ]);
  const startedAt = performance.now();
  let cpu = 0;
  let peakRss = 0;
  // Sampled until the process exits: the last sample misses at most the final 100 ms.
  const sampler = setInterval(() => {
    try {
      cpu = cpuMs(ingest.child.pid);
      peakRss = Math.max(peakRss, rssMiB(ingest.child.pid));
    } catch {}
  }, 100);
  const code = await new Promise((resolve) => ingest.child.once("exit", resolve));
  clearInterval(sampler);
  const seconds = (performance.now() - startedAt) / 1000;
  rmSync(db, { force: true });
  if (code !== 0) throw new Error(`tidemark run exited ${code}`);
  return {
    rate: count / seconds,
    cpuPerBlock: cpu / count,
    peakRss,
    simulatorCpuPerBlock: (cpuMs(served.pid) - simulatorCpu) / count,
  };
}

async function withSimulator(count, fn) {
  const simulator = start([
    "simulate",
    "--shape",
    "mainnet",
    "--block-ms",
    "0",
    "--backlog",
    String(count),
    "--repeat-every",
    "16",
  ]);
  try {
    const served = await new Promise((resolve) => simulator.lines.once("line", (line) => resolve(JSON.parse(line))));
    return await fn({ ...served, pid: simulator.child.pid });
  } finally {
    simulator.child.kill("SIGTERM");
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const show = (label, runs) =>
  console.log(
    `${label.padEnd(24)} ${runs.map((r) => r.rate.toFixed(1)).join(" / ")} blocks/s   ` +
      `${runs.map((r) => r.cpuPerBlock.toFixed(1)).join(" / ")} CPU-ms/block   ` +
      `peak RSS ${runs.map((r) => r.peakRss.toFixed(0)).join(" / ")} MiB   ` +
      `simulator ${runs.map((r) => r.simulatorCpuPerBlock.toFixed(1)).join(" / ")} CPU-ms/block`,
  );

try {
  const variants = [
    { label: `workers ${cores} (pool on)`, workers: cores, runs: [] },
    { label: "workers 0 (pool off)", workers: 0, runs: [] },
  ];
  const [on, off] = variants.map((v) => v.runs);
  await withSimulator(blocks, async (served) => {
    for (let i = 0; i < rounds; i++) {
      // A different one goes first each round, so a slower stretch of a shared machine weighs on both.
      for (let k = 0; k < variants.length; k++) {
        const variant = variants[(i + k) % variants.length];
        variant.runs.push(await ingestRound(served, blocks, variant.workers));
      }
    }
  });
  console.log(`mainnet_blocks: ${blocks} per round, ${rounds} interleaved rounds, ${cores} cores`);
  for (const variant of variants) show(variant.label, variant.runs);
  const rate = (runs) => median(runs.map((r) => r.rate));
  const cpu = (runs) => median(runs.map((r) => r.cpuPerBlock)).toFixed(1);
  const rss = (runs) => median(runs.map((r) => r.peakRss)).toFixed(0);
  console.log(`mainnet_pool_speedup: ${(rate(on) / rate(off)).toFixed(2)}x (median blocks/s, target >= 1.7)`);
  console.log(`mainnet_cpu_per_block_pool_on: ${cpu(on)} ms (target <= 20)`);
  console.log(`mainnet_cpu_per_block_pool_off: ${cpu(off)} ms`);
  console.log(`mainnet_peak_rss_${blocks}: ${rss(on)} MiB pool on, ${rss(off)} MiB off (target < 256)`);
  if (longBlocks > 0) {
    const long = await withSimulator(longBlocks, (served) => ingestRound(served, longBlocks, undefined));
    show(`${longBlocks} blocks, defaults`, [long]);
    console.log(`mainnet_peak_rss_${longBlocks}: ${long.peakRss.toFixed(0)} MiB (target < 256)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
