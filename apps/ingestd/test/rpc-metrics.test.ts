import { join } from "node:path";
import { type FaultRule, KinBlockFactory, SolanaChain, SolanaRpcServer } from "@tidemark/kin/simulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cli, committed, workdir } from "./cli-process.js";
import { probe, ready, sample, until } from "./health-probe.js";

const dir = workdir();
// Providers put API keys in the URL; no health body, metric or status line may show it.
const secret = "s3cretApiKey";
let server: SolanaRpcServer;
let chain: SolanaChain;

beforeAll(async () => {
  const factory = await KinBlockFactory.create({ seed: "rpc-metrics" });
  chain = new SolanaChain();
  for (const [i, slot] of [1000n, 1001n, 1002n].entries()) {
    chain.append([await factory.transfer(i, i + 1, 10n)], { slot });
  }
  server = await SolanaRpcServer.start({ chain });
});
afterAll(async () => {
  await server.close();
});

interface FaultCase {
  readonly name: string;
  readonly kind: string;
  /** The fault, aimed at `slot`, the block appended once it is in place. */
  readonly rule: (slot: bigint) => FaultRule;
  /** The request that fails, as /ready and the status line name it. */
  readonly request: (slot: bigint) => RegExp;
}

const getBlock = (slot: bigint) => new RegExp(`^getBlock\\(${slot}\\)$`);
const cases: FaultCase[] = [
  {
    name: "HTTP 503",
    kind: "http",
    rule: (slot) => ({ method: "getBlock", target: slot, fault: { kind: "http", status: 503 } }),
    request: getBlock,
  },
  {
    name: "garbage JSON",
    kind: "malformed",
    rule: (slot) => ({ method: "getBlock", target: slot, fault: { kind: "malformed", body: "}{ not json" } }),
    request: getBlock,
  },
  {
    name: "an HTML page",
    kind: "malformed",
    rule: (slot) => ({
      method: "getBlock",
      target: slot,
      fault: {
        kind: "malformed",
        contentType: "text/html",
        body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
      },
    }),
    request: getBlock,
  },
  {
    name: "a truncated body",
    kind: "malformed",
    rule: (slot) => ({ method: "getBlock", target: slot, fault: { kind: "malformed" } }),
    request: getBlock,
  },
  {
    name: "a null block",
    kind: "invalid",
    rule: (slot) => ({ method: "getBlock", target: slot, fault: { kind: "mutate", mutate: () => null } }),
    request: getBlock,
  },
  {
    name: "a block without transactions",
    kind: "invalid",
    rule: (slot) => ({
      method: "getBlock",
      target: slot,
      fault: {
        kind: "mutate",
        mutate: (result) => {
          const { transactions: _dropped, ...rest } = result as Record<string, unknown>;
          return rest;
        },
      },
    }),
    request: getBlock,
  },
  {
    name: "slots that do not ascend",
    kind: "invalid",
    rule: () => ({ method: "getBlocksWithLimit", fault: { kind: "mutate", mutate: () => [2, 1] } }),
    request: () => /^getBlocksWithLimit\(\d+, \d+\)$/,
  },
];

// NODE_ENV=production as deployed: @solana/kit then words its errors as codes, so no log message says "429";
// the counts must come from the ingestor's retry hook, which reports each failure's kind itself.
it("counts failed chain requests by kind, turns /ready false after --unready-after-failures in a row and shows them on the status line", async () => {
  const cli = new Cli(
    [
      "run",
      "--rpc",
      `${server.url}/?api-key=${secret}`,
      "--store",
      `sqlite:${join(dir, "rpc.db")}`,
      "--metrics-port",
      "0",
      "--log-level",
      "debug",
      "--status",
      "on",
      "--unready-after-failures",
      "2",
    ],
    { cwd: dir, env: { NODE_ENV: "production" } },
  );
  const { port } = (await cli.waitFor((line) => typeof line.port === "number")) as { port: number };
  await cli.waitFor((line) => committed(line) && line.block === "1002");
  await until("the node to be ready", async () => ((await ready(port)).status === 200 ? true : undefined));
  const errors = async (kind: string) =>
    sample((await probe(port, "/metrics")).text, `tidemark_rpc_errors{ingestor="history_KIN4",kind="${kind}"}`) ?? 0;
  let slot = 1002n;

  // HTTP 429 with Retry-After: 1 three times: every retry waits the second the node asked for, though the backoff is 250 ms.
  {
    slot++;
    const throttledBefore = await errors("throttled");
    const fault = server.faults.add({
      method: "getBlock",
      target: slot,
      fault: { kind: "http", status: 429, retryAfter: "1" },
      times: 3,
    });
    chain.append([], { slot });
    await cli.waitFor((line) => committed(line) && line.block === slot.toString());
    expect(fault.hits).toBe(3);
    // When the node saw them: three throttled requests, then the one that succeeded, each a second or more apart.
    const arrivals = server.arrivals("getBlock", slot);
    expect(arrivals).toHaveLength(4);
    const spacing = arrivals.slice(1).map((at, i) => at - (arrivals[i] as number));
    // (Timers count whole milliseconds of the event loop's clock: a few ms of slack, far from the 250 ms backoff.)
    for (const gap of spacing) expect(gap, `request spacing ${spacing.join(", ")} ms`).toBeGreaterThanOrEqual(990);
    expect((await errors("throttled")) - throttledBefore).toBe(3);
  }

  for (const fault of cases) {
    slot++;
    const before = await errors(fault.kind);
    const handle = server.faults.add({ ...fault.rule(slot), times: Number.POSITIVE_INFINITY });
    chain.append([], { slot });
    const request = fault.request(slot);
    let last = "";
    const failing = await until(
      `/ready 503 for ${fault.name}`,
      async () => {
        const { status, chains, text } = await ready(port);
        last = text;
        const kin4 = chains[0];
        return status === 503 && kin4?.failing && request.test(kin4.failing.request) && kin4.failing.failures >= 2
          ? { kin4, text }
          : undefined;
      },
      15_000,
      () => `last /ready: ${last}`,
    );
    expect(failing.kin4.ready, fault.name).toBe(false);
    expect(failing.kin4.failing?.kind, fault.name).toBe(fault.kind);
    expect(failing.kin4.failing?.reason, fault.name).not.toBe("");
    expect(failing.kin4.reasons?.join(" "), fault.name).toMatch(/failed \d+ times in a row/);
    expect(failing.text, fault.name).not.toContain(secret);

    const metrics = (await probe(port, "/metrics")).text;
    expect(await errors(fault.kind), fault.name).toBeGreaterThanOrEqual(before + 2);
    expect(
      sample(metrics, 'tidemark_rpc_consecutive_failures{ingestor="history_KIN4"}'),
      fault.name,
    ).toBeGreaterThanOrEqual(2);
    expect(metrics, fault.name).not.toContain(secret);

    const shown = new RegExp(`rpc: ${request.source.slice(1, -1)} failing ×\\d+ \\(${fault.kind}\\)`);
    await until(`the status line to show ${fault.name}`, () =>
      cli.stderr.some((l) => shown.test(l)) ? true : undefined,
    );

    handle.remove();
    await until(
      `/ready 200 once ${fault.name} stopped`,
      async () => ((await ready(port)).status === 200 ? true : undefined),
      15_000,
      () => cli.dump(),
    );
  }

  const after = (await probe(port, "/metrics")).text;
  expect(sample(after, 'tidemark_rpc_consecutive_failures{ingestor="history_KIN4"}')).toBe(0);
  // With nothing failing, the status line keeps the kind of the last failure.
  const lastKind = cases.at(-1)?.kind as string;
  await until("the status line to show the last error kind", () =>
    cli.stderr.at(-1)?.includes(`last error: ${lastKind}`) ? true : undefined,
  );
  expect(cli.stderr.join("\n")).not.toContain(secret);
  cli.child.kill("SIGTERM");
  expect((await cli.exited).code).toBe(0);
});
