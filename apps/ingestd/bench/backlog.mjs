// Backfill benchmark: a separate simulator process serves a backlog of
// pre-generated Kin4 blocks as fast as it can; `tidemark run` ingests them
// into SQLite up to the last one. Prints blocks/s, transactions/s and the
// ingesting process's RSS after 10 % of the blocks and at the end.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";

const blocks = Number(process.env.BACKLOG_BLOCKS ?? 20_000);
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tidemark-backlog-"));

function start(args) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  return { child, lines };
}

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

const simulator = start(["simulate", "--block-ms", "0", "--backlog", String(blocks), "--seed", "backlog"]);
const generatedAt = performance.now();
const served = await new Promise((resolve) => simulator.lines.once("line", (line) => resolve(JSON.parse(line))));
console.log(
  `backlog_generation: ${((performance.now() - generatedAt) / 1000).toFixed(1)} s for ${served.blocks} blocks`,
);

const db = join(dir, "backlog.db");
const first = BigInt(served.firstSlot);
const last = BigInt(served.lastSlot);
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
  "--log-level",
  "debug",
  "--status",
  "off",
]);
const startedAt = performance.now();
let rssAtTenth = null;
let peakRss = 0;
const sampler = setInterval(() => {
  try {
    peakRss = Math.max(peakRss, rssKiB(ingest.child.pid));
  } catch {}
}, 100);
ingest.lines.on("line", (text) => {
  if (rssAtTenth !== null || !text.includes('"committed"')) return;
  const line = JSON.parse(text);
  if (line.event !== "committed") return;
  if (BigInt(line.block) - first + 1n >= BigInt(Math.floor(blocks / 10))) rssAtTenth = rssKiB(ingest.child.pid);
});
const rssAtEnd = await new Promise((resolve) => {
  let lastRss = 0;
  const tracker = setInterval(() => {
    try {
      // An exiting process (a zombie) has no VmRSS line any more; keep the last real reading.
      lastRss = rssKiB(ingest.child.pid) || lastRss;
    } catch {}
  }, 50);
  ingest.child.once("exit", () => {
    clearInterval(tracker);
    resolve(lastRss);
  });
});
const seconds = (performance.now() - startedAt) / 1000;
clearInterval(sampler);
simulator.child.kill("SIGTERM");

const sqlite = new DatabaseSync(db);
const { n: transactions } = sqlite.prepare("SELECT count(*) AS n FROM tidemark_history").get();
sqlite.close();
rmSync(dir, { recursive: true, force: true });

console.log(`backlog_blocks: ${blocks} blocks`);
console.log(`backlog_ingest_rate: ${(blocks / seconds).toFixed(0)} blocks/s`);
console.log(
  `backlog_transaction_rate: ${(transactions / seconds).toFixed(0)} transactions/s (${transactions} transactions)`,
);
console.log(`backlog_peak_rss: ${(peakRss / 1024).toFixed(1)} MiB`);
console.log(`backlog_rss_after_${blocks / 10}_blocks: ${((rssAtTenth ?? 0) / 1024).toFixed(1)} MiB`);
console.log(`backlog_rss_at_end: ${(rssAtEnd / 1024).toFixed(1)} MiB`);
console.log(`backlog_rss_growth: ${(rssAtEnd / (rssAtTenth || 1)).toFixed(2)} x (bound: <= 1.5)`);
