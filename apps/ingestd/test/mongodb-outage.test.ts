import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type MongoJavaTestServer, startMongoJavaServer, TcpFaultProxy } from "@tidemark/test-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cli, committed, workdir } from "./cli-process.js";

const dir = workdir();
let mongo: MongoJavaTestServer;
let proxy: TcpFaultProxy;

beforeAll(async () => {
  mongo = await startMongoJavaServer();
  const { hostname, port } = new URL(mongo.uri);
  proxy = await TcpFaultProxy.start({ host: hostname, port: Number(port) });
}, 120_000);
afterAll(async () => {
  await proxy?.close();
  await mongo?.close();
});

it("keeps `tidemark run --store mongodb://…` running through a 5-second outage, committing again after it", async () => {
  const node = new Cli(
    [
      "run",
      "--demo",
      "--store",
      `mongodb://${proxy.address}/tidemark`,
      "--history",
      `sqlite:${join(dir, "history.db")}`,
      "--log-level",
      "debug",
      "--status",
      "off",
      "--lease-ms",
      "3000",
    ],
    { cwd: dir },
  );
  const commits = () => node.lines.filter(committed).length;
  await node.waitFor(() => commits() >= 3, 60_000);

  // Every connection cut and refused: longer than the lease, so the node also loses and retakes the lock.
  proxy.down();
  await sleep(5000);
  proxy.resume();
  const before = commits();
  expect(node.child.exitCode, `exited during the outage:\n${node.dump()}`).toBeNull();

  await node.waitFor(() => commits() >= before + 3, 60_000);
  // The outage outlasted the lease: the node lost the lock and took it again, in the same process.
  expect(node.lines.filter((line) => line.event === "lost").length, node.dump()).toBeGreaterThan(0);
  expect(node.lines.filter((line) => line.event === "acquired").length, node.dump()).toBeGreaterThan(1);
  node.child.kill("SIGTERM");
  expect((await node.exited).code, node.dump()).toBe(0);
});
