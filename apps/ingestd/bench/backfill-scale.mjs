// Backfill scaling benchmark: a simulator process serves a backlog of Kin4
// blocks with 50 ms added to every RPC answer (a remote node's round trip);
// `tidemark backfill` ingests them into one SQLite store with 1, 2 and 4
// processes, one partition each at a time. Prints blocks/s per process count
// and the ratios to one process (target: 4 processes >= 3.5x one). 12,000
// blocks by default: a backfill runs for hours, and with fewer blocks each
// process's start (about 0.7 CPU-s) weighs on the many-process runs alone.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";

const blocks = Number(process.env.BACKFILL_BLOCKS ?? 12_000);
const latencyMs = Number(process.env.BACKFILL_LATENCY_MS ?? 50);
const counts = (process.env.BACKFILL_PROCESSES ?? "1,2,4").split(",").map(Number);
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tidemark-backfill-scale-"));

function start(args) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, lines, exited };
}

const simulator = start([
  "simulate",
  "--block-ms",
  "0",
  "--backlog",
  String(blocks),
  "--seed",
  "backfill-scale",
  "--latency-ms",
  String(latencyMs),
]);
const served = await new Promise((resolve) => simulator.lines.once("line", (line) => resolve(JSON.parse(line))));
const from = BigInt(served.firstSlot) - 1n;
const until = BigInt(served.lastSlot);
// Four partitions per process at the most processes, so no process runs out of work early.
const partitionSize = (until - from + 15n) / 16n;
console.log(
  `backfill_scale_setup: ${blocks} blocks (slots ${from + 1n}-${until}), ${latencyMs} ms RPC latency, partitions of ${partitionSize} slots, ${availableParallelism()} cores`,
);

const rates = new Map();
try {
  for (const processes of counts) {
    const db = join(dir, `scale-${processes}.db`);
    const args = [
      "backfill",
      "--rpc",
      served.rpc,
      "--store",
      `sqlite:${db}`,
      "--from",
      String(from),
      "--until",
      String(until),
      "--partition-size",
      String(partitionSize),
      "--partitions",
      "1",
      "--log-level",
      "warn",
    ];
    const startedAt = performance.now();
    const nodes = Array.from({ length: processes }, () => start(args));
    const codes = await Promise.all(nodes.map((n) => n.exited));
    const seconds = (performance.now() - startedAt) / 1000;
    if (codes.some((code) => code !== 0)) throw new Error(`a backfill process failed: exit codes ${codes}`);
    const sqlite = new DatabaseSync(db);
    const { n } = sqlite.prepare("SELECT count(*) AS n FROM tidemark_history").get();
    sqlite.close();
    const rate = blocks / seconds;
    rates.set(processes, rate);
    console.log(
      `backfill_scale_${processes}_processes: ${rate.toFixed(0)} blocks/s (${seconds.toFixed(1)} s, ${n} transactions)`,
    );
  }
  const one = rates.get(1);
  if (one !== undefined) {
    for (const [processes, rate] of rates) {
      if (processes === 1) continue;
      const target = processes === 4 ? " (target >= 3.5x)" : "";
      console.log(`backfill_scale_ratio_${processes}_to_1: ${(rate / one).toFixed(2)}x${target}`);
    }
  }
} finally {
  simulator.child.kill("SIGTERM");
  await simulator.exited;
  rmSync(dir, { recursive: true, force: true });
}
