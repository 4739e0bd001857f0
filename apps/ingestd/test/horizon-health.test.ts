import { join } from "node:path";
import { KIN3_MAINNET } from "@tidemark/kin";
import { HorizonServer, StellarLedgers, StellarTransactionFactory } from "@tidemark/kin/simulator";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cli, committed, workdir } from "./cli-process.js";
import { probe, ready, sample, until } from "./health-probe.js";

const dir = workdir();
let server: HorizonServer;
let ledgers: StellarLedgers;
const txs = new StellarTransactionFactory(KIN3_MAINNET, "horizon-health");

beforeAll(async () => {
  ledgers = new StellarLedgers();
  ledgers.append([txs.payment(0, 1, "10")], { sequence: 100 });
  ledgers.append([txs.payment(1, 2, "5")]);
  server = await HorizonServer.start({ ledgers, networkPassphrase: KIN3_MAINNET.passphrase });
});
afterAll(async () => {
  await server.close();
});

/** The failing request once /ready answers 503 for it, after two failures in a row, the last of `kind`. */
async function failingStreak(port: number, kind: string) {
  let last = "";
  return until(
    `/ready 503 for a request failing as ${kind}`,
    async () => {
      const answer = await ready(port);
      last = answer.text;
      const streak = answer.chains[0]?.failing;
      return answer.status === 503 && streak?.kind === kind && streak.failures >= 2 ? streak : undefined;
    },
    15_000,
    () => `last /ready: ${last}`,
  );
}

const becomesReady = (port: number) =>
  until("/ready 200 again", async () => ((await ready(port)).status === 200 ? true : undefined));

it("a Horizon that throttles a ledger's transactions, or streams a malformed event, turns /ready false with the request and kind, and counts it, until it answers again", async () => {
  const cli = new Cli(
    [
      "run",
      "--chain",
      "kin3",
      "--horizon",
      server.url,
      "--store",
      `sqlite:${join(dir, "horizon.db")}`,
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
  const { port } = (await cli.waitFor((line) => typeof line.port === "number")) as { port: number };
  await cli.waitFor((line) => committed(line) && line.block === "101");
  await until("the node to be ready", async () => ((await ready(port)).status === 200 ? true : undefined));

  const next = (ledgers.range?.last as number) + 1;
  const fault = server.faults.add({
    method: `GET /ledgers/${next}/transactions`,
    fault: { kind: "http", status: 429, retryAfter: "1" },
    times: Number.POSITIVE_INFINITY,
  });
  ledgers.append([txs.payment(2, 3, "1")]);
  const throttled = await failingStreak(port, "throttled");
  expect(throttled).toMatchObject({ request: `GET /ledgers/${next}/transactions?cursor=`, kind: "throttled" });
  const metrics = (await probe(port, "/metrics")).text;
  expect(sample(metrics, 'tidemark_rpc_errors{ingestor="history_KIN3",kind="throttled"}')).toBeGreaterThanOrEqual(2);
  expect(sample(metrics, 'tidemark_rpc_consecutive_failures{ingestor="history_KIN3"}')).toBeGreaterThanOrEqual(2);
  // Retry-After: 1, though the backoff starts at 250 ms.
  const arrivals = server.arrivals(`GET /ledgers/${next}/transactions`);
  const spacing = arrivals.slice(1).map((at, i) => at - (arrivals[i] as number));
  for (const gap of spacing) expect(gap, `request spacing ${spacing.join(", ")} ms`).toBeGreaterThanOrEqual(990);
  fault.remove();
  await cli.waitFor((line) => committed(line) && line.block === String(next));
  await becomesReady(port);

  // The stream's next ledger event is cut-off JSON, every time it is reopened.
  const spoiled = server.faults.add({
    method: "stream /ledgers",
    fault: { kind: "malformedEvent" },
    times: Number.POSITIVE_INFINITY,
  });
  ledgers.append([]);
  server.dropConnections();
  const malformed = await failingStreak(port, "malformed");
  expect(malformed).toMatchObject({ request: "GET /ledgers (stream)", kind: "malformed" });
  // The drop itself counts as a network failure of the stream; each reopening after it, as malformed.
  await until("two malformed stream events counted", async () => {
    const count = sample(
      (await probe(port, "/metrics")).text,
      'tidemark_rpc_errors{ingestor="history_KIN3",kind="malformed"}',
    );
    return (count ?? 0) >= 2 ? true : undefined;
  });
  spoiled.remove();
  await cli.waitFor((line) => committed(line) && line.block === String(next + 1));
  await becomesReady(port);
  expect(
    sample((await probe(port, "/metrics")).text, 'tidemark_rpc_consecutive_failures{ingestor="history_KIN3"}'),
  ).toBe(0);
  cli.child.kill("SIGTERM");
  expect((await cli.exited).code).toBe(0);
});
