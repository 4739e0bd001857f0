import { join } from "node:path";
import {
  type DynamoDbLocalTestServer,
  type EtcdTestServer,
  type MongoJavaTestServer,
  type PostgresTestServer,
  startDynamoDbLocal,
  startEtcd,
  startMongoJavaServer,
  startPostgres,
} from "@tidemark/test-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackfillChain, startBackfillChain } from "./backfill-chain.js";
import { Cli, runToEnd, workdir } from "./cli-process.js";

const dir = workdir();
let chain: BackfillChain;
let etcd: EtcdTestServer;
let dynamodb: DynamoDbLocalTestServer;
let mongo: MongoJavaTestServer;
let postgres: PostgresTestServer;
const aws = { AWS_ACCESS_KEY_ID: "tidemark", AWS_SECRET_ACCESS_KEY: "tidemark", AWS_REGION: "us-east-1" };
const PARTITION_SIZE = 15n;

beforeAll(async () => {
  [chain, etcd, dynamodb, mongo, postgres] = await Promise.all([
    startBackfillChain(100),
    startEtcd(),
    startDynamoDbLocal(),
    startMongoJavaServer(),
    startPostgres(),
  ]);
}, 180_000);
afterAll(async () => {
  await Promise.all([chain?.close(), etcd?.close(), dynamodb?.close(), mongo?.close(), postgres?.close()]);
});

/** What every node and reader of the fleet shares: the plan, as the config would give it. */
const planEnv = () => ({
  TIDEMARK_BACKFILL: JSON.stringify({
    kin4: { from: Number(chain.from), until: Number(chain.until), partitionSize: Number(PARTITION_SIZE) },
  }),
});

/**
 * Two `tidemark backfill` processes over one plan on `store`: both exit 0,
 * every partition's pointer is at its end, and the history holds every Kin
 * transaction of the range exactly once.
 */
async function backfillTwice(store: string, options: { history?: string; env?: NodeJS.ProcessEnv } = {}) {
  const env = { ...options.env, ...planEnv() };
  const where = ["--store", store, ...(options.history ? ["--history", options.history] : [])];
  const args = ["backfill", "--rpc", chain.url, ...where, "--partitions", "2", "--lease-ms", "2000"];
  // No block is served until both nodes hold partitions: the first to start
  // cannot finish the whole range while the other is still loading.
  let open!: () => void;
  const gate = chain.server.faults.add({
    method: "getBlock",
    times: Number.POSITIVE_INFINITY,
    fault: { kind: "hold", until: new Promise<void>((resolve) => (open = resolve)) },
  });
  const nodes = [0, 1].map(() => new Cli(args, { cwd: dir, env }));
  try {
    await Promise.all(nodes.map((n) => n.waitFor((l) => l.msg === "backfill: working on a partition", 60_000)));
  } finally {
    open();
    gate.remove();
  }
  const exits = await Promise.all(nodes.map((n) => n.exited));
  for (const [i, exit] of exits.entries()) expect(exit.code, nodes[i]?.dump()).toBe(0);
  // Both nodes worked: the plan was shared, not done twice by one of them.
  const worked = nodes.map((n) => n.lines.filter((l) => l.msg === "backfill: working on a partition").length);
  expect(
    worked.every((count) => count > 0),
    `partitions worked on: ${worked}`,
  ).toBe(true);

  const status = await runToEnd(["commits", "status", ...where, "--json", "--sample-ms", "0"], dir, env);
  expect(status.code, status.stderr).toBe(0);
  const partitions = status.stdout.filter((l) => typeof l.partition === "string" && l.partition !== "total");
  expect(partitions).toHaveLength(Math.ceil(Number(chain.until - chain.from) / Number(PARTITION_SIZE)));
  for (const p of partitions) {
    expect(p.block, String(p.partition)).toBe(p.through);
    expect(p.percent).toBe(100);
  }
  expect(status.stdout.find((l) => l.partition === "total")?.percent).toBe(100);

  const read = await runToEnd(
    ["history", "blocks", String(chain.from + 1n), String(chain.until), ...where, "--json"],
    dir,
    env,
  );
  expect(read.code, read.stderr).toBe(0);
  const ids = read.stdout.map((l) => l.txId as string);
  expect(new Set(ids).size, "no transaction twice").toBe(ids.length);
  expect([...ids].sort()).toEqual(chain.between(chain.from, chain.until).sort());
}

describe("tidemark backfill by two processes on every store", () => {
  it("SQLite", async () => {
    await backfillTwice(`sqlite:${join(dir, "backfill.db")}`);
  });

  it("etcd (history in SQLite)", async () => {
    await backfillTwice(`etcd://${new URL(etcd.endpoints[0] as string).host}`, {
      history: `sqlite:${join(dir, "etcd-history.db")}`,
    });
  });

  it("DynamoDB", async () => {
    const store = `dynamodb://${new URL(dynamodb.endpoint).host}?region=us-east-1`;
    const init = await runToEnd(["store", "init", "--store", store], dir, aws);
    expect(init.code, init.stderr).toBe(0);
    await backfillTwice(store, { env: aws });
  });

  it("MongoDB", async () => {
    await backfillTwice(`mongodb://${new URL(mongo.uri).host}/tidemark-backfill`);
  });

  it("PostgreSQL", async () => {
    const init = await runToEnd(["store", "init", "--store", postgres.url], dir, {});
    expect(init.code, init.stderr).toBe(0);
    await backfillTwice(postgres.url);
  });
});

it("refuses bad input with exit code 2 before writing anything", async () => {
  const db = join(dir, "refused.db");
  for (const bad of [
    ["--from", "50", "--until", "50"],
    ["--from", "1", "--until", "50", "--partition-size", "0"],
    ["--from", "1", "--until", "50", "--chain", "kin9"],
  ]) {
    const result = await runToEnd(["backfill", "--rpc", chain.url, "--store", `sqlite:${db}`, ...bad], dir, {});
    expect(result.code, bad.join(" ")).toBe(2);
    expect(result.stderr).toMatch(/^tidemark: --(until|partition-size|chain): /);
  }
  const { existsSync } = await import("node:fs");
  expect(existsSync(db), "no database was created").toBe(false);
});
