import { join } from "node:path";
import {
  type DynamoDbLocalTestServer,
  type MongoJavaTestServer,
  type PostgresTestServer,
  startDynamoDbLocal,
  startMongoJavaServer,
  startPostgres,
} from "@tidemark/test-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cli, committed, type LogLine, runToEnd, workdir } from "./cli-process.js";

const dir = workdir();
let dynamodb: DynamoDbLocalTestServer;
let mongo: MongoJavaTestServer;
let postgres: PostgresTestServer;
const aws = { AWS_ACCESS_KEY_ID: "tidemark", AWS_SECRET_ACCESS_KEY: "tidemark", AWS_REGION: "us-east-1" };

beforeAll(async () => {
  [dynamodb, mongo, postgres] = await Promise.all([startDynamoDbLocal(), startMongoJavaServer(), startPostgres()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([dynamodb?.close(), mongo?.close(), postgres?.close()]);
});

/** What `history blocks` prints for a store, in its order: `slot/txId` per transaction. */
async function readHistory(args: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const reader = await runToEnd(["history", "blocks", ...args, "--json"], dir, env);
  expect(reader.code, reader.stderr).toBe(0);
  return reader.stdout.map((line) => {
    const view = line as LogLine & { txId: string; slot: string };
    return `${view.slot}/${view.txId}`;
  });
}

/**
 * Three nodes ingest one simulated chain into `store` with no --history, the
 * leader is killed mid-run, and a fourth process that only reads must see
 * every transaction of the range exactly once: the same as one uninterrupted
 * node ingesting the same range into its own SQLite file.
 */
async function failover(store: string, env: NodeJS.ProcessEnv = {}) {
  const simulator = new Cli(["simulate", "--block-ms", "150", "--backlog", "20"], { cwd: dir });
  const served = (await simulator.waitFor((line) => typeof line.rpc === "string", 60_000)) as LogLine & {
    rpc: string;
    firstSlot: string;
    lastSlot: string;
  };
  try {
    const from = BigInt(served.firstSlot) + 2n;
    const until = BigInt(served.lastSlot) + 40n;
    const range = ["--from", String(from), "--until", String(until)];
    const node = () =>
      new Cli(["run", "--rpc", served.rpc, "--store", store, ...range, "--lease-ms", "3000", "--log-level", "debug"], {
        cwd: dir,
        env: { ...env, TIDEMARK_STATUS: "off" },
      });
    const nodes = [node(), node(), node()];
    const leaderFound = Promise.any(
      nodes.map((cli) =>
        cli.waitFor((line) => committed(line) && cli.lines.filter(committed).length >= 3, 60_000).then(() => cli),
      ),
    );
    const leader = await leaderFound;
    leader.child.kill("SIGKILL");
    const exits = await Promise.all(nodes.filter((cli) => cli !== leader).map((cli) => cli.exited));
    for (const [i, exit] of exits.entries()) expect(exit.code, `survivor ${i}`).toBe(0);
    const takeover = nodes.filter((cli) => cli !== leader).some((cli) => cli.lines.some(committed));
    expect(takeover, "a survivor committed after the leader was killed").toBe(true);

    const reference = join(dir, `reference-${store.split(":")[0]}.db`);
    const solo = await runToEnd(["run", "--rpc", served.rpc, "--store", `sqlite:${reference}`, ...range], dir, {
      TIDEMARK_STATUS: "off",
    });
    expect(solo.code, solo.stderr).toBe(0);

    const blocks = [String(from + 1n), String(until)];
    const fleet = await readHistory([...blocks, "--store", store], env);
    const expected = await readHistory([...blocks, "--store", `sqlite:${reference}`], {});
    expect(expected.length, "transactions in the range").toBeGreaterThan(0);
    expect(new Set(fleet).size, "each transaction once").toBe(fleet.length);
    const missing = expected.filter((tx) => !fleet.includes(tx));
    const extra = fleet.filter((tx) => !expected.includes(tx));
    const slots = (list: string[]) => [list[0]?.split("/")[0], list.at(-1)?.split("/")[0], list.length];
    expect(
      { missing, extra },
      `transactions the fleet's history lacks or adds; range ${from}..${until}, fleet ${slots(fleet)}, one node ${slots(expected)}`,
    ).toEqual({ missing: [], extra: [] });
    expect(fleet, "the fleet's shared history, in order").toEqual(expected);
  } finally {
    simulator.child.kill("SIGTERM");
    await simulator.exited;
  }
}

describe("one history for the whole fleet", () => {
  it("DynamoDB, in agora's tables: three nodes, the leader killed, a reader sees every transaction once", async () => {
    const store = `dynamodb://${new URL(dynamodb.endpoint).host}?region=us-east-1`;
    const init = await runToEnd(["store", "init", "--store", store], dir, aws);
    expect(init.code, init.stderr).toBe(0);
    await failover(store, aws);
  }, 180_000);

  it("MongoDB: three nodes, the leader killed, a reader sees every transaction once", async () => {
    await failover(`mongodb://${new URL(mongo.uri).host}/shared_history`);
  }, 180_000);

  it("PostgreSQL: three nodes, the leader killed, a reader sees every transaction once", async () => {
    const init = await runToEnd(["store", "init", "--store", postgres.url], dir, {});
    expect(init.code, init.stderr).toBe(0);
    await failover(postgres.url);
  }, 180_000);

  it("refuses to run on etcd without --history, saying history needs a shared store", async () => {
    const result = await runToEnd(["run", "--demo", "--store", "etcd://127.0.0.1:1"], dir, {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--history: .*history needs a store every node and reader shares/);
  });
});
