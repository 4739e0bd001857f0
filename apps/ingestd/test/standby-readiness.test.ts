import { join } from "node:path";
import { KinBlockFactory, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cli, committed, type LogLine, workdir } from "./cli-process.js";
import { type ChainReadinessBody, probe, ready, sample, until } from "./health-probe.js";

const dir = workdir();
let server: SolanaRpcServer;
let chain: SolanaChain;
let producing: NodeJS.Timeout | undefined;

beforeAll(async () => {
  const factory = await KinBlockFactory.create({ seed: "standby" });
  chain = new SolanaChain();
  for (const [i, slot] of [500n, 501n, 502n].entries()) chain.append([await factory.transfer(i, i + 1, 5n)], { slot });
  server = await SolanaRpcServer.start({ chain });
  // A block every 400 ms, so the standby's lag has something to follow.
  producing = setInterval(() => chain.append([]), 400);
});
afterAll(async () => {
  clearInterval(producing);
  await server.close();
});

const node = () =>
  new Cli(
    [
      "run",
      "--rpc",
      server.url,
      "--store",
      `sqlite:${join(dir, "shared.db")}`,
      "--metrics-port",
      "0",
      "--log-level",
      "debug",
      "--status",
      "off",
      "--unready-after-failures",
      "2",
    ],
    { cwd: dir },
  );

const listening = async (cli: Cli) =>
  ((await cli.waitFor((line) => typeof line.port === "number")) as { port: number }).port;

it("a hot standby that reaches its store and chain is ready, with its lag, exports leader 0 and is not /leader; a failing chain request turns both nodes unready and shows in the progress log", async () => {
  const leader = node();
  const leaderPort = await listening(leader);
  await leader.waitFor(committed);
  const standby = node();
  const standbyPort = await listening(standby);

  let last = "";
  const standbyReady = await until(
    "the standby's /ready to answer 200",
    async () => {
      const answer = await ready(standbyPort);
      last = answer.text;
      return answer.status === 200 ? answer : undefined;
    },
    15_000,
    () => `last /ready: ${last}`,
  );
  const kin4 = standbyReady.chains[0] as ChainReadinessBody;
  expect(kin4).toMatchObject({ chain: "kin4", ready: true, leader: false });
  // The standby read the committed pointer from the store and the head from the chain.
  expect(kin4.lag).toMatch(/^\d+$/);
  expect((await probe(standbyPort, "/leader")).status).toBe(503);
  expect((await probe(leaderPort, "/leader")).status).toBe(200);
  const leaderSeries = 'tidemark_history_leader{ingestor="history_KIN4"}';
  expect(sample((await probe(standbyPort, "/metrics")).text, leaderSeries)).toBe(0);
  expect(sample((await probe(leaderPort, "/metrics")).text, leaderSeries)).toBe(1);
  expect(standby.lines.some((line) => line.event === "acquired")).toBe(false);

  // The node answers getSlot with a JSON-RPC error: neither node knows the head any more.
  const fault = server.faults.add({
    method: "getSlot",
    fault: { kind: "rpcError", code: -32000, message: "Node is unhealthy" },
    times: Number.POSITIVE_INFINITY,
  });
  for (const [name, port] of [
    ["leader", leaderPort],
    ["standby", standbyPort],
  ] as const) {
    const failing = await until(`the ${name}'s /ready to fail on getSlot`, async () => {
      const { status, chains } = await ready(port);
      const streak = chains[0]?.failing;
      return status === 503 && streak && streak.failures >= 2 ? streak : undefined;
    });
    expect(failing, name).toMatchObject({ request: "getSlot(finalized)", kind: "rpc" });
    expect(failing.reason, name).toContain("Node is unhealthy");
  }
  // Without a terminal, the progress line every 10 s carries the same facts.
  const progress = await standby.waitFor(
    (line: LogLine) => line.msg === "progress" && (line.failing as { kind?: string } | null)?.kind === "rpc",
    15_000,
  );
  expect(progress).toMatchObject({
    chain: "kin4",
    leader: false,
    lastErrorKind: "rpc",
    failing: { request: "getSlot(finalized)", kind: "rpc" },
  });
  expect((progress.failing as { summary: string }).summary).toMatch(/^rpc: getSlot\(finalized\) failing ×\d+ \(rpc\)$/);

  fault.remove();
  for (const port of [leaderPort, standbyPort]) {
    await until("/ready 200 again", async () => ((await ready(port)).status === 200 ? true : undefined));
  }
  for (const cli of [standby, leader]) {
    cli.child.kill("SIGTERM");
    expect((await cli.exited).code).toBe(0);
  }
});
