import { join } from "node:path";
import { MainnetShapedChain } from "@tidemark/kin/simulator";
import { expect, it } from "vitest";
import { Cli, type LogLine, runToEnd, workdir } from "./cli-process.js";

const dir = workdir();

it("serves mainnet-shaped blocks with --shape mainnet, and run writes exactly their Kin transfers", async () => {
  // Traffic repeating every 2 blocks, as the benchmark serves it: the Kin transfers stay each block's own.
  const args = [
    "--shape",
    "mainnet",
    "--block-ms",
    "0",
    "--backlog",
    "5",
    "--transactions",
    "120",
    "--repeat-every",
    "2",
  ];
  const simulator = new Cli(["simulate", ...args, "--seed", "cli-mainnet"], { cwd: dir });
  const served = (await simulator.waitFor((line) => typeof line.rpc === "string", 60_000)) as LogLine & {
    rpc: string;
    firstSlot: string;
    lastSlot: string;
    blocks: number;
  };
  expect(served.blocks).toBe(5);
  // The same seed and sizes build the same chain in this process: what the ingestor must have written.
  const chain = await MainnetShapedChain.create({
    seed: "cli-mainnet",
    blocks: 5,
    transactionsPerBlock: 120,
    repeatEvery: 2,
  });
  expect(served.lastSlot).toBe(chain.tipSlot.toString());
  const expected = chain.blocksFrom(0n, 10).flatMap((slot) => chain.kinTransfers(slot).map((t) => t.id));
  expect(new Set(expected).size).toBe(5 * 4);

  const store = `sqlite:${join(dir, "mainnet.db")}`;
  const first = BigInt(served.firstSlot);
  const job = await runToEnd(
    ["run", "--rpc", served.rpc, "--store", store, "--from", String(first - 1n), "--until", served.lastSlot],
    dir,
  );
  simulator.child.kill("SIGTERM");
  await simulator.exited;
  expect(job.code, job.stderr).toBe(0);
  const history = await runToEnd(
    ["history", "blocks", String(first), served.lastSlot, "--store", store, "--json"],
    dir,
  );
  expect(history.code, history.stderr).toBe(0);
  // Within a block, history is read back in agora's ordering-key order, not block order.
  expect(history.stdout.map((line) => line.txId).sort()).toEqual(expected.sort());
});
