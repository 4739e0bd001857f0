// Commits per second through SqliteCommitter beside the same conditional
// upsert issued directly on node:sqlite, and blocks per second through `run`
// with coalescing off and on, all on one temporary file in one run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pointerFromNumber, run, SequenceIngestor } from "@tidemark/core";
import { SqliteCommitter, SqliteLock } from "../dist/index.js";

const dir = mkdtempSync(join(tmpdir(), "tidemark-bench-"));
const path = join(dir, "bench.db");
const N = 20_000;

async function committerRate() {
  const committer = new SqliteCommitter({ path });
  const started = performance.now();
  let parent = null;
  for (let n = 1; n <= N; n++) {
    const block = pointerFromNumber(n);
    await committer.commit("bench-committer", parent, block);
    parent = block;
  }
  await committer.close();
  return N / ((performance.now() - started) / 1000);
}

function rawRate() {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  const statement = db.prepare(`INSERT INTO tidemark_commits (ingestor, latest) VALUES (:ingestor, :block)
    ON CONFLICT (ingestor) DO UPDATE SET latest = excluded.latest WHERE latest IS NULL OR latest = :parent`);
  const started = performance.now();
  let parent = null;
  for (let n = 1; n <= N; n++) {
    const block = pointerFromNumber(n);
    if (statement.run({ ingestor: "bench-raw", block, parent }).changes !== 1) throw new Error("raw CAS failed");
    parent = block;
  }
  db.close();
  return N / ((performance.now() - started) / 1000);
}

async function runRate(coalesce) {
  const committer = new SqliteCommitter({ path });
  const lock = new SqliteLock({ path, key: `bench-${coalesce}` });
  const started = performance.now();
  await run({
    signal: AbortSignal.timeout(300_000),
    lock,
    committer,
    writer: { write: async () => {} },
    ingestor: new SequenceIngestor({ name: `bench-run-${coalesce}`, entriesPerBlock: 0 }),
    until: pointerFromNumber(N),
    coalesce,
  });
  await lock.close();
  await committer.close();
  return N / ((performance.now() - started) / 1000);
}

try {
  await new SqliteCommitter({ path }).close();
  const raw = rawRate();
  const committer = await committerRate();
  const off = await runRate(false);
  const on = await runRate(true);
  console.log(`sqlite_raw_conditional_upsert: ${raw.toFixed(0)} commits/s`);
  console.log(`sqlite_committer: ${committer.toFixed(0)} commits/s`);
  console.log(`sqlite_committer_vs_raw: ${(committer / raw).toFixed(2)} ratio`);
  console.log(`sqlite_run_coalescing_off: ${off.toFixed(0)} blocks/s`);
  console.log(`sqlite_run_coalescing_on: ${on.toFixed(0)} blocks/s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
