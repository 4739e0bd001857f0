import { join } from "node:path";
import { sleep } from "@tidemark/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type BackfillChain, startBackfillChain } from "./backfill-chain.js";
import { Cli, type LogLine, runToEnd, workdir } from "./cli-process.js";

const dir = workdir();
let chain: BackfillChain;
// A slow RPC node (0.3 s an answer) keeps the 2,000 blocks busy for long enough to disturb them.
beforeAll(async () => {
  chain = await startBackfillChain(2000, { seed: "chaos", latencyMs: 300 });
}, 120_000);
afterAll(async () => {
  await chain?.close();
});

const PARTITION_SIZE = 100;

/** The partitions a node holds now, from its log: acquired and not released since. */
function held(node: Cli): Set<string> {
  const holding = new Set<string>();
  for (const line of node.lines) {
    const partition = line.partition as string | undefined;
    if (partition === undefined) continue;
    if (line.msg === "backfill: lock acquired") holding.add(partition);
    if (line.msg === "backfill: lock released" || line.msg === "backfill: lock lost") holding.delete(partition);
  }
  return holding;
}

it("three backfilling processes, partition leaders killed or paused every few seconds: every transaction once, every pointer at its end", async () => {
  const db = join(dir, "chaos.db");
  const env = {
    TIDEMARK_BACKFILL: JSON.stringify({
      kin4: { from: Number(chain.from), until: Number(chain.until), partitionSize: PARTITION_SIZE },
    }),
  };
  const args = ["backfill", "--rpc", chain.url, "--store", `sqlite:${db}`, "--partitions", "2", "--lease-ms", "1500"];
  const spawn = () => new Cli(args, { cwd: dir, env });
  const nodes: Cli[] = [spawn(), spawn(), spawn()];
  const alive = new Set(nodes);
  const exited = new Map<Cli, number | null>();
  const watch = (node: Cli) =>
    void node.exited.then(({ code }) => {
      alive.delete(node);
      exited.set(node, code);
    });
  for (const node of nodes) watch(node);

  const readVisible = async () => {
    const history = await runToEnd(
      ["history", "blocks", String(chain.from + 1n), String(chain.until), "--store", `sqlite:${db}`, "--json"],
      dir,
      env,
    );
    // Read after the history: pointers only grow, so every visible entry must be at or below them.
    const status = await runToEnd(
      ["commits", "status", "--store", `sqlite:${db}`, "--json", "--sample-ms", "0"],
      dir,
      env,
    );
    return { history, status };
  };
  const checkNothingBeyondPointers = ({ history, status }: Awaited<ReturnType<typeof readVisible>>) => {
    if (history.code !== 0 || status.code !== 0) return; // the file may not exist yet
    const partitions = status.stdout.filter((l: LogLine) => typeof l.after === "string" && l.partition !== "total");
    for (const entry of history.stdout) {
      const slot = BigInt(entry.slot as string);
      const p = partitions.find(
        (q: LogLine) => BigInt(q.after as string) < slot && slot <= BigInt(q.through as string),
      );
      expect(p, `partition of slot ${slot}`).toBeDefined();
      expect(p?.block === null ? false : slot <= BigInt(p?.block as string), `slot ${slot} beyond ${p?.block}`).toBe(
        true,
      );
    }
  };

  const paused = new Set<Cli>();
  let kills = 0;
  let pauses = 0;
  const started = performance.now();
  let round = 0;
  while (alive.size > 0 && performance.now() - started < 100_000) {
    await sleep(1000);
    round++;
    const leaders = [...alive].filter((node) => held(node).size > 0 && !paused.has(node));
    const victim = leaders[round % Math.max(1, leaders.length)];
    if (victim === undefined) continue;
    if (round % 2 === 0) {
      victim.child.kill("SIGKILL");
      await victim.exited;
      kills++;
      const replacement = spawn();
      nodes.push(replacement);
      alive.add(replacement);
      watch(replacement);
    } else {
      victim.child.kill("SIGSTOP");
      paused.add(victim);
      pauses++;
      // Longer than the lease: the paused leader's partitions are taken over meanwhile.
      setTimeout(() => {
        paused.delete(victim);
        victim.child.kill("SIGCONT");
      }, 2000);
    }
    if (round % 4 === 0) checkNothingBeyondPointers(await readVisible());
  }
  await Promise.all([...alive].map((node) => node.exited));
  expect(kills + pauses, "chaos happened").toBeGreaterThanOrEqual(4);
  for (const [node, code] of exited) {
    if (code !== null) expect(code, node.dump()).toBe(0);
  }

  const final = await readVisible();
  expect(final.status.code, final.status.stderr).toBe(0);
  const partitions = final.status.stdout.filter((l: LogLine) => typeof l.after === "string" && l.partition !== "total");
  expect(partitions).toHaveLength(Math.ceil(Number(chain.until - chain.from) / PARTITION_SIZE));
  for (const p of partitions) expect(p.block, String(p.partition)).toBe(p.through);
  expect(final.history.code, final.history.stderr).toBe(0);
  const ids = final.history.stdout.map((l: LogLine) => l.txId as string);
  expect(new Set(ids).size, "no transaction twice").toBe(ids.length);
  expect([...ids].sort()).toEqual(chain.between(chain.from, chain.until).sort());
  checkNothingBeyondPointers(final);
}, 180_000);
