import { join } from "node:path";
import {
  type DynamoDbLocalTestServer,
  type EtcdTestServer,
  type MongoJavaTestServer,
  startDynamoDbLocal,
  startEtcd,
  startMongoJavaServer,
} from "@tidemark/test-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { importAdapter } from "../src/stores/optional-adapter.js";
import { Cli, committed, workdir } from "./cli-process.js";

const dir = workdir();
let etcd: EtcdTestServer;
let dynamodb: DynamoDbLocalTestServer;
let mongo: MongoJavaTestServer;
const aws = { AWS_ACCESS_KEY_ID: "tidemark", AWS_SECRET_ACCESS_KEY: "tidemark", AWS_REGION: "us-east-1" };

beforeAll(async () => {
  [etcd, dynamodb, mongo] = await Promise.all([startEtcd(), startDynamoDbLocal(), startMongoJavaServer()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([etcd?.close(), dynamodb?.close(), mongo?.close()]);
});

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const code = await runCli(args, {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: process.env,
      signal: new AbortController().signal,
    });
    return { code, out, err: err.join("\n") };
  } finally {
    for (const key of Object.keys(env)) if (saved[key] === undefined) delete process.env[key];
  }
}

/** Ingests the demo into `store` until a few commits, stops it, and checks `commits list` agrees. */
async function ingestAndCheck(store: string, env: NodeJS.ProcessEnv = {}) {
  const history = `sqlite:${join(dir, `${store.split(":")[0]}-history.db`)}`;
  const node = new Cli(
    [
      "run",
      "--demo",
      "--store",
      store,
      "--history",
      history,
      "--log-level",
      "debug",
      "--status",
      "off",
      "--lease-ms",
      "3000",
    ],
    {
      cwd: dir,
      env,
    },
  );
  await node.waitFor((line) => committed(line) && node.lines.filter(committed).length >= 3, 60_000);
  node.child.kill("SIGTERM");
  expect((await node.exited).code).toBe(0);
  const last = node.lines.filter(committed).at(-1)?.block as string;
  const list = await cli(["commits", "list", "--store", store, "--json"], env);
  expect(list.code, list.err).toBe(0);
  expect(list.out.map((l) => JSON.parse(l)).find((r) => r.chain === "kin4")?.block).toBe(last);
  const read = await cli(["history", "blocks", "0", last, "--store", store, "--history", history, "--json"], env);
  expect(read.code, read.err).toBe(0);
  expect(read.out.length).toBeGreaterThan(0);
}

describe("tidemark on remote stores", () => {
  it("ingests with commits and the lock in etcd", async () => {
    await ingestAndCheck(`etcd://${new URL(etcd.endpoints[0] as string).host}`);
  });

  it("creates agora's tables and ingests with commits and the lock in DynamoDB", async () => {
    const store = `dynamodb://${new URL(dynamodb.endpoint).host}?region=us-east-1`;
    const init = await cli(["store", "init", "--store", store], aws);
    expect(init.code, init.err).toBe(0);
    await ingestAndCheck(store, aws);
  });

  it("ingests with commits and the lock over the MongoDB protocol", async () => {
    const uri = new URL(mongo.uri);
    await ingestAndCheck(`mongodb://${uri.host}/tidemark`);
  });

  it("names the adapter package to install when it is missing", async () => {
    await expect(importAdapter("@tidemark/not-installed", "sqlite:x")).rejects.toThrow(
      /store "sqlite:x" needs the @tidemark\/not-installed package, which is not installed/,
    );
  });
});
