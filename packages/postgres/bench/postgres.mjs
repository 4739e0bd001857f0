// Commit throughput and failover time of @tidemark/postgres against one server, in one run:
// - commits through PostgresCommitter beside the raw guarded UPDATE it sends, one at a time;
// - fenced commits (a PostgresLock lease checked in the same statement) beside the raw fenced UPDATE;
// - the time from SIGKILL of a holder process to a contender process's first commit, with a 3 s lease.
// Raw and committer share one pool and prepare their statements by name alike, so the ratios measure
// what the committer adds. Uses POSTGRES_URL when set, else starts a PostgreSQL of its own on loopback.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { pointerFromNumber, run, SequenceIngestor } from "@tidemark/core";
import { startPostgres } from "@tidemark/test-servers";
import pg from "pg";
import { createSchema, PostgresCommitter, PostgresLock } from "../dist/index.js";

if (process.argv[2] === "node") {
  await node(...process.argv.slice(3));
} else {
  await main();
}

async function main() {
  const COMMITS = 10_000;
  const WARMUP = 1000;
  const FAILOVERS = 3;
  const LEASE_MS = 3000;

  const external = process.env.POSTGRES_URL?.trim();
  const server = external ? null : await startPostgres();
  const url = external || server.url;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  const committer = new PostgresCommitter({ pool });
  const lock = new PostgresLock({ pool, key: `bench-${Date.now()}`, leaseMs: 60_000 });
  try {
    await createSchema(pool);
    const version = (await pool.query("SHOW server_version")).rows[0].server_version;
    const label = external ? "POSTGRES_URL" : `PostgreSQL ${version} on loopback (fsync off)`;
    console.log(`server: ${label}; Node ${process.versions.node}; ${COMMITS} sequential commits of each kind`);

    const name = `bench-${Date.now().toString(36)}`;
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const bytes = (n) => Buffer.from(pointerFromNumber(n));
    const parentOf = (n) => (n === 1 ? null : pointerFromNumber(n - 1));
    for (const suffix of ["raw", "raw-fenced"]) {
      await pool.query("INSERT INTO tidemark_commits (ingestor, latest) VALUES ($1, $2)", [
        `${name}-${suffix}`,
        bytes(0),
      ]);
    }
    const rawUpdate = {
      name: "bench_raw_update",
      text: "UPDATE tidemark_commits SET latest = $3 WHERE ingestor = $1 AND latest = $2 AND latest < $3",
    };
    const rawFenced = {
      name: "bench_raw_fenced",
      text: `UPDATE tidemark_commits SET latest = $3, fence = $4 WHERE ingestor = $1 AND latest = $2 AND latest < $3
        AND (fence IS NULL OR fence <= $4) AND EXISTS (SELECT 1 FROM tidemark_locks WHERE key = $5 AND owner = $6
        AND token = $4 AND NOT released AND expires_at > now() FOR SHARE)`,
    };
    const applied = (result) => {
      if (result.rowCount !== 1) throw new Error("raw compare-and-swap lost");
    };
    const kinds = {
      raw: async (n) => applied(await pool.query({ ...rawUpdate, values: [`${name}-raw`, bytes(n - 1), bytes(n)] })),
      committer: (n) => committer.commit(`${name}-unfenced`, parentOf(n), pointerFromNumber(n)),
      rawFenced: async (n) =>
        applied(
          await pool.query({
            ...rawFenced,
            values: [`${name}-raw-fenced`, bytes(n - 1), bytes(n), String(lease.token), lease.key, lease.owner],
          }),
        ),
      fenced: (n) => committer.commit(`${name}-fenced`, parentOf(n), pointerFromNumber(n), { lease }),
    };
    // The kinds take turns commit by commit, in a rotating order, so that a noisy neighbour, GC or
    // autovacuum hits them alike; the first WARMUP rounds warm the JIT and are not counted.
    const totals = Object.fromEntries(Object.keys(kinds).map((kind) => [kind, 0]));
    const order = Object.keys(kinds);
    for (let n = 1; n <= WARMUP + COMMITS; n++) {
      order.push(order.shift());
      for (const kind of order) {
        const started = performance.now();
        await kinds[kind](n);
        if (n > WARMUP) totals[kind] += performance.now() - started;
      }
    }
    const rate = (ms) => COMMITS / (ms / 1000);
    console.log(`raw_guarded_update: ${rate(totals.raw).toFixed(0)} ops/s`);
    console.log(`committer_commit_unfenced: ${rate(totals.committer).toFixed(0)} commits/s`);
    console.log(`committer_vs_raw: ${(totals.raw / totals.committer).toFixed(2)} x (target >= 0.9)`);
    console.log(`raw_fenced_update: ${rate(totals.rawFenced).toFixed(0)} ops/s`);
    console.log(`committer_commit_fenced: ${rate(totals.fenced).toFixed(0)} commits/s`);
    console.log(`fenced_vs_raw_fenced: ${(totals.rawFenced / totals.fenced).toFixed(2)} x`);
    console.log(`fenced_vs_unfenced: ${(totals.committer / totals.fenced).toFixed(2)} x`);
    await lock.unlock();

    const takeovers = [];
    for (let i = 0; i < FAILOVERS; i++) takeovers.push(await failover(url, LEASE_MS));
    const sorted = [...takeovers].sort((a, b) => a - b);
    console.log(
      `sigkill_to_first_commit_lease_${LEASE_MS}ms: median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms ` +
        `(min ${sorted[0].toFixed(0)}, max ${sorted.at(-1).toFixed(0)}, ${FAILOVERS} runs; two processes running \`run\`)`,
    );
  } finally {
    await lock.close();
    await committer.close();
    await pool.end();
    await server?.close();
  }
}

/**
 * One failover: a holder process and a contender process run `run` on one chain; once the holder
 * commits and the contender waits, the holder is killed; the time until the contender's first
 * commit is measured here, in the parent, on one clock.
 */
async function failover(url, leaseMs) {
  const key = `failover-${Date.now().toString(36)}`;
  const ingestor = `failover-${Date.now().toString(36)}`;
  const script = fileURLToPath(import.meta.url);
  // Every line is kept with the moment it arrived, so a wait never misses a line printed before it began.
  const start = (role) => {
    const child = spawn(process.execPath, [script, "node", role, url, key, ingestor, String(leaseMs)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const node = { child, seen: [], waiters: new Set() };
    createInterface({ input: child.stdout }).on("line", (line) => {
      node.seen.push({ line, at: performance.now() });
      for (const waiter of node.waiters) waiter();
    });
    node.exited = new Promise((resolve) => child.once("exit", resolve));
    return node;
  };
  const waitFor = (node, word, after = 0) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = node.seen.find((entry) => entry.at >= after && entry.line.startsWith(word));
        if (found === undefined) return;
        node.waiters.delete(check);
        resolve(found.at);
      };
      node.waiters.add(check);
      check();
      node.exited.then(() => {
        if (node.waiters.delete(check)) reject(new Error(`a node exited before "${word}"`));
      });
    });
  const holder = start("holder");
  const contender = start("contender");
  try {
    await waitFor(holder, "committed");
    await waitFor(contender, "waiting");
    // Let a few renewals and commits go by, as in a steady run.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const killedAt = performance.now();
    holder.child.kill("SIGKILL");
    return (await waitFor(contender, "committed", killedAt)) - killedAt;
  } finally {
    holder.child.kill("SIGKILL");
    contender.child.kill("SIGTERM");
    await Promise.all([holder.exited, contender.exited]);
  }
}

/** A child process: `run` with a PostgresLock and a PostgresCommitter, printing each commit. */
async function node(role, url, key, ingestor, leaseMs) {
  const lock = new PostgresLock({ connectionString: url, key, leaseMs: Number(leaseMs) });
  const committer = new PostgresCommitter({ connectionString: url });
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort(new Error("stopped")));
  if (role === "contender") {
    // Start only once the holder holds, so that the contender is the one waiting.
    while ((await lock.describe()) === null) await new Promise((resolve) => setTimeout(resolve, 20));
    console.log("waiting");
  }
  try {
    await run({
      signal: stop.signal,
      lock,
      committer,
      ingestor: new SequenceIngestor({ name: ingestor, delayMs: 20, concurrency: 1 }),
      writer: { write: async () => {} },
      lockRetryMs: 100,
      onEvent: (event) => {
        if (event.type === "committed") console.log(`committed ${role}`);
      },
    }).catch((error) => {
      if (!stop.signal.aborted) throw error;
    });
  } finally {
    await lock.close();
    await committer.close();
  }
}
