import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { expect, it } from "vitest";
import { Cli, committed, type LogLine, workdir } from "./cli-process.js";

const dir = workdir();

interface Holding {
  pid: number;
  start: number;
  end: number;
}

/** Holding intervals from a process's lock events; a killed holder holds until it was killed. */
function holdings(cli: Cli, killedAt: number | null): Holding[] {
  const intervals: Holding[] = [];
  let start: number | null = null;
  for (const line of cli.lines) {
    if (line.event === "acquired") start = line.at as number;
    if ((line.event === "lost" || line.event === "released") && start !== null) {
      intervals.push({ pid: cli.child.pid as number, start, end: line.at as number });
      start = null;
    }
  }
  if (start !== null) intervals.push({ pid: cli.child.pid as number, start, end: killedAt ?? Date.now() });
  return intervals;
}

it("lets two processes on one SQLite file take turns: the second takes over within the lease after SIGKILL", async () => {
  const simulator = new Cli(["simulate", "--block-ms", "200"], { cwd: dir });
  const { rpc } = (await simulator.waitFor((line) => typeof line.rpc === "string")) as LogLine & { rpc: string };
  const db = join(dir, "shared.db");
  const args = [
    "run",
    "--rpc",
    rpc,
    "--store",
    `sqlite:${db}`,
    "--lease-ms",
    "3000",
    "--log-level",
    "debug",
    "--status",
    "off",
  ];

  const first = new Cli(args, { cwd: dir });
  await first.waitFor((line) => line.event === "acquired");
  const second = new Cli(args, { cwd: dir });
  await first.waitFor((line) => committed(line) && first.lines.filter(committed).length >= 5);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(
    second.lines.some((l) => l.event === "acquired"),
    "the standby acquired while the first held",
  ).toBe(false);

  const killedAt = Date.now();
  first.child.kill("SIGKILL");
  const acquired = await second.waitFor((line) => line.event === "acquired", 20_000);
  // The standby takes over once it has seen the holder's last version unchanged for the lease (3 s):
  // up to one poll (500 ms) to first see it, then the lease, in a process sharing two cores with the
  // simulator; 1.5 s of slack for that. Still below two leases, which a broken takeover would need.
  expect((acquired.at as number) - killedAt, "ms from SIGKILL to takeover").toBeLessThanOrEqual(3000 + 500 + 1500);
  await second.waitFor((line) => committed(line) && second.lines.filter(committed).length >= 5);
  second.child.kill("SIGTERM");
  expect((await second.exited).code).toBe(0);
  simulator.child.kill("SIGTERM");
  await simulator.exited;

  const intervals = [...holdings(first, killedAt), ...holdings(second, null)].sort((a, b) => a.start - b.start);
  for (let i = 1; i < intervals.length; i++) {
    expect(intervals[i]?.start, "holdings overlap").toBeGreaterThanOrEqual(intervals[i - 1]?.end as number);
  }
  // The second process continued from the first's last commit (or a later one it made itself).
  const firstBlocks = first.lines.filter(committed).map((l) => BigInt(l.block as string));
  const secondCommits = second.lines.filter(committed);
  const resumedFrom = BigInt(secondCommits[0]?.parent as string);
  expect(resumedFrom).toBeGreaterThanOrEqual(firstBlocks.at(-1) as bigint);

  const sqlite = new DatabaseSync(db);
  try {
    const rows = sqlite
      .prepare("SELECT count(*) AS n FROM tidemark_history WHERE block <= (SELECT latest FROM tidemark_commits)")
      .get() as { n: number };
    expect(rows.n, "committed transactions in history").toBeGreaterThan(0);
    // Transaction ids are a primary key, so "once" is structural; what a crash could break is an
    // entry stored without its account rows (a half-written write). Every Kin entry has accounts.
    const orphans = sqlite
      .prepare(
        "SELECT count(*) AS n FROM tidemark_history h WHERE NOT EXISTS (SELECT 1 FROM tidemark_history_accounts a WHERE a.ingestor = h.ingestor AND a.tx_id = h.tx_id)",
      )
      .get() as { n: number };
    expect(orphans.n, "entries without their account rows").toBe(0);
  } finally {
    sqlite.close();
  }
});
