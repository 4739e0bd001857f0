// CPU per block on mainnet-shaped blocks: a separate `tidemark simulate --shape mainnet` process
// serves about 1,200 transactions a block (three quarters votes, a few Kin transfers); `tidemark run`
// ingests MAINNET_BLOCKS of them into SQLite. The ingesting process's CPU time (user + system, read
// from /proc) is divided by the blocks; the simulator's own CPU is not counted. Prints blocks/s,
// CPU-ms per block and the ingesting process's RSS.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const blocks = Number(process.env.MAINNET_BLOCKS ?? 2_000);
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tidemark-mainnet-cpu-"));
// Linux reports process CPU time in clock ticks of 1/100 s.
const TICK_MS = 10;

function start(args) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  process.once("exit", () => child.kill("SIGKILL"));
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

const simulator = start(["simulate", "--shape", "mainnet", "--block-ms", "0", "--backlog", String(blocks)]);
try {
  const served = await new Promise((resolve) => simulator.lines.once("line", (line) => resolve(JSON.parse(line))));
  const first = BigInt(served.firstSlot);
  const last = BigInt(served.lastSlot);
  const ingest = start([
    "run",
    "--rpc",
    served.rpc,
    "--store",
    `sqlite:${join(dir, "mainnet.db")}`,
    "--from",
    String(first - 1n),
    "--until",
    String(last),
    "--status",
    "off",
    "--log-level",
    "debug",
  ]);
  const startedAt = performance.now();
  let cpu = 0;
  let peakRss = 0;
  let rssAtTenth = 0;
  let committed = 0;
  ingest.lines.on("line", (text) => {
    if (!text.includes('"committed"')) return;
    const line = JSON.parse(text);
    if (line.event === "committed") committed = Number(BigInt(line.block) - first + 1n);
  });
  // Sampled until the process exits: the last sample misses at most the final 100 ms.
  const sampler = setInterval(() => {
    try {
      cpu = cpuMs(ingest.child.pid);
      const rss = rssMiB(ingest.child.pid);
      peakRss = Math.max(peakRss, rss);
      if (rssAtTenth === 0 && committed >= blocks / 10) rssAtTenth = rss;
    } catch {}
  }, 100);
  const code = await new Promise((resolve) => ingest.child.once("exit", resolve));
  clearInterval(sampler);
  const seconds = (performance.now() - startedAt) / 1000;
  if (code !== 0) throw new Error(`tidemark run exited ${code}`);
  console.log(`mainnet_blocks: ${blocks} (about 1,200 transactions each)`);
  console.log(`mainnet_ingest_rate: ${(blocks / seconds).toFixed(1)} blocks/s`);
  console.log(`mainnet_cpu_per_block: ${(cpu / blocks).toFixed(1)} ms (target <= 20)`);
  console.log(`mainnet_rss_after_tenth: ${rssAtTenth.toFixed(0)} MiB`);
  console.log(`mainnet_peak_rss: ${peakRss.toFixed(0)} MiB`);
} finally {
  simulator.child.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
