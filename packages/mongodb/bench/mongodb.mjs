// Throughput of @tidemark/mongodb against one server, measured side by side in one run:
// commits through MongoCommitter beside the raw conditional updateOne it wraps, fenced beside
// unfenced commits, and blocks per second through `run` with coalescing off and on.
// Uses MONGODB_URI when set, else starts mongo-java-server (memory backend) on loopback.
import { pointerFromNumber, run, SequenceIngestor } from "@tidemark/core";
import { startMongoJavaServer } from "@tidemark/test-servers";
import { Binary, MongoClient } from "mongodb";
import { MongoCommitter, MongoLock } from "../dist/index.js";

const COMMITS = 20_000;
const WARMUP = 2000;

const external = process.env.MONGODB_URI;
const server = external ? null : await startMongoJavaServer({ backend: "memory" });
const uri = external ?? server.uri;
const client = new MongoClient(uri);
try {
  await client.connect();
  const label = external ? "MONGODB_URI" : "mongo-java-server 1.47.0 (memory backend) on loopback";
  console.log(`server: ${label}; Node ${process.versions.node}; ${COMMITS} sequential commits of each kind`);

  const committer = new MongoCommitter({ client, collection: "bench_commits" });
  const raw = client.db().collection("bench_raw", { writeConcern: { w: "majority" } });
  const name = `bench-${Date.now()}`;
  const lease = { signal: new AbortController().signal, token: 1n };
  await committer.fence(`${name}-fenced`, lease);
  const parentOf = (n) => (n === 1 ? null : pointerFromNumber(n - 1));
  const kinds = {
    // The plain compare-and-swap the committer wraps: replace latest only where it still is the parent.
    raw: async (n) => {
      const parent = parentOf(n);
      const result = await raw.updateOne(
        { _id: `${name}-raw`, latest: parent === null ? null : new Binary(parent) },
        { $set: { latest: new Binary(pointerFromNumber(n)) } },
        { upsert: true },
      );
      if (result.matchedCount + result.upsertedCount !== 1) throw new Error("raw compare-and-swap lost");
    },
    committer: (n) => committer.commit(`${name}-unfenced`, parentOf(n), pointerFromNumber(n)),
    fenced: (n) => committer.commit(`${name}-fenced`, parentOf(n), pointerFromNumber(n), { lease }),
  };
  // The kinds take turns commit by commit, in a rotating order, so that a noisy neighbour, GC or
  // server drift hits them alike; the first WARMUP rounds warm the JIT on both sides and are not counted.
  const totals = { raw: 0, committer: 0, fenced: 0 };
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
  console.log(`raw_conditional_update_one: ${rate(totals.raw).toFixed(0)} ops/s`);
  console.log(`committer_commit_unfenced: ${rate(totals.committer).toFixed(0)} commits/s`);
  console.log(`committer_commit_fenced: ${rate(totals.fenced).toFixed(0)} commits/s`);
  console.log(`committer_vs_raw: ${(totals.raw / totals.committer).toFixed(2)} x (target >= 0.9)`);
  console.log(`fenced_vs_unfenced: ${(totals.committer / totals.fenced).toFixed(2)} x`);

  for (const coalesce of [false, true]) {
    const blocks = coalesce ? 20_000 : 3000;
    const { perSecond, writes } = await runBlocks(client, coalesce, blocks);
    console.log(
      `run_blocks_coalescing_${coalesce ? "on" : "off"}: ${perSecond.toFixed(0)} blocks/s (${writes} commits for ${blocks} blocks, MongoLock + MongoCommitter)`,
    );
  }
} finally {
  await client.close();
  await server?.close();
}

async function runBlocks(client, coalesce, blocks) {
  const ingestor = new SequenceIngestor({
    name: `bench-run-${coalesce}-${Date.now()}`,
    concurrency: 8,
    entriesPerBlock: 0,
  });
  let writes = 0;
  const lock = new MongoLock({ client, key: `bench-${ingestor.name}`, collection: "bench_locks" });
  const seconds =
    (await timed(() =>
      run({
        signal: AbortSignal.timeout(300_000),
        lock,
        committer: new MongoCommitter({ client, collection: "bench_commits" }),
        writer: { write: async () => {} },
        ingestor,
        until: pointerFromNumber(blocks),
        coalesce,
        onEvent: (event) => {
          if (event.type === "committed") writes++;
        },
      }),
    )) / 1000;
  return { perSecond: blocks / seconds, writes };
}

async function timed(work) {
  const started = performance.now();
  await work();
  return performance.now() - started;
}
