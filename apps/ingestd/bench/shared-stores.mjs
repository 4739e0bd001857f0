// Backfill on each store with a shared history, in one run: a simulator serves
// a backlog of pre-generated Kin4 blocks, and `tidemark run` ingests them with
// commits, lock and history in SQLite, DynamoDB Local, mongo-java-server and PostgreSQL in
// turn (servers started here on loopback). Prints blocks/s per store and the
// ratio to SQLite.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startDynamoDbLocal, startMongoJavaServer, startPostgres } from "@tidemark/test-servers";

const blocks = Number(process.env.BACKLOG_BLOCKS ?? 2000);
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tidemark-shared-bench-"));
const aws = { AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench", AWS_REGION: "us-east-1" };

function start(args, env = {}) {
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  return { child, lines: createInterface({ input: child.stdout }) };
}

async function finish(args, env) {
  const { child } = start(args, env);
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`tidemark ${args.join(" ")} exited ${code}`);
}

const [dynamodb, mongo, postgres] = await Promise.all([startDynamoDbLocal(), startMongoJavaServer(), startPostgres()]);
const simulator = start(["simulate", "--block-ms", "0", "--backlog", String(blocks), "--seed", "shared-bench"]);
const served = await new Promise((resolve) => simulator.lines.once("line", (line) => resolve(JSON.parse(line))));
const range = ["--from", String(BigInt(served.firstSlot) - 1n), "--until", served.lastSlot];

const dynamoStore = `dynamodb://${new URL(dynamodb.endpoint).host}?region=us-east-1`;
const stores = [
  { name: "sqlite", url: `sqlite:${join(dir, "bench.db")}`, env: {} },
  { name: "dynamodb", url: dynamoStore, env: aws, init: true },
  { name: "mongodb", url: `mongodb://${new URL(mongo.uri).host}/bench`, env: {} },
  { name: "postgres", url: postgres.url, env: {}, init: true },
];
const rates = {};
try {
  for (const store of stores) {
    if (store.init) await finish(["store", "init", "--store", store.url], store.env);
    const startedAt = performance.now();
    await finish(
      ["run", "--rpc", served.rpc, "--store", store.url, ...range, "--status", "off", "--log-level", "warn"],
      store.env,
    );
    rates[store.name] = blocks / ((performance.now() - startedAt) / 1000);
    console.log(
      `backfill_${store.name}: ${rates[store.name].toFixed(0)} blocks/s (${blocks} blocks, history in the same store)`,
    );
  }
  for (const name of ["dynamodb", "mongodb", "postgres"]) {
    console.log(`backfill_${name}_vs_sqlite: ${(rates[name] / rates.sqlite).toFixed(2)} ratio`);
  }
} finally {
  simulator.child.kill("SIGTERM");
  await Promise.all([dynamodb.close(), mongo.close(), postgres.close()]);
  rmSync(dir, { recursive: true, force: true });
}
