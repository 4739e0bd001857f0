import { join } from "node:path";
import { KinBlockFactory, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cli, committed, workdir } from "./cli-process.js";

const dir = workdir();
const slots = [1000n, 1001n, 1002n, 1003n];
let server: SolanaRpcServer;

beforeAll(async () => {
  const factory = await KinBlockFactory.create({ seed: "rpc-metrics" });
  const chain = new SolanaChain();
  for (const [i, slot] of slots.entries()) chain.append([await factory.transfer(i, i + 1, 10n)], { slot });
  server = await SolanaRpcServer.start({ chain });
});
afterAll(async () => {
  await server.close();
});

// NODE_ENV=production as deployed: @solana/kit then words its errors as codes, so no log message says "429";
// the counts must come from the ingestor's retry hook, which reports the HTTP status itself.
it("counts retried and throttled chain requests in /metrics from the ingestor's retry hook", async () => {
  const throttled = server.faults.add({
    method: "getBlock",
    target: 1001n,
    fault: { kind: "http", status: 429, retryAfter: "0" },
    times: 2,
  });
  const unavailable = server.faults.add({ method: "getBlock", target: 1002n, fault: { kind: "http", status: 503 } });
  const cli = new Cli(
    [
      "run",
      "--rpc",
      server.url,
      "--store",
      `sqlite:${join(dir, "rpc.db")}`,
      "--metrics-port",
      "0",
      "--log-level",
      "debug",
      "--status",
      "off",
    ],
    { cwd: dir, env: { NODE_ENV: "production" } },
  );
  const { port } = (await cli.waitFor((line) => typeof line.port === "number")) as { port: number };
  await cli.waitFor((line) => committed(line) && line.block === "1003");
  expect([throttled.hits, unavailable.hits]).toEqual([2, 1]);

  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  expect(metrics).toContain('tidemark_rpc_errors{ingestor="history_KIN4"} 3');
  expect(metrics).toContain('tidemark_rpc_throttles{ingestor="history_KIN4"} 2');
  cli.child.kill("SIGTERM");
  expect((await cli.exited).code).toBe(0);
});
