import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { expect, it } from "vitest";
import { Cli, committed, type LogLine, workdir } from "./cli-process.js";

const dir = workdir();

it("backfills from --from (exclusive) to --until (inclusive), then releases the lock and exits 0", async () => {
  const simulator = new Cli(["simulate", "--block-ms", "0", "--backlog", "40"], { cwd: dir });
  const served = (await simulator.waitFor((line) => typeof line.rpc === "string", 60_000)) as LogLine & {
    rpc: string;
    firstSlot: string;
    lastSlot: string;
  };
  const from = BigInt(served.firstSlot) + 9n;
  const until = BigInt(served.lastSlot) - 10n;
  const db = join(dir, "backfill.db");
  const job = new Cli(
    [
      "run",
      "--rpc",
      served.rpc,
      "--store",
      `sqlite:${db}`,
      "--from",
      String(from),
      "--until",
      String(until),
      "--log-level",
      "debug",
      "--status",
      "off",
    ],
    { cwd: dir },
  );
  const { code } = await job.exited;
  simulator.child.kill("SIGTERM");
  await simulator.exited;
  expect(code, job.dump()).toBe(0);
  expect(job.lines.some((l) => l.event === "released")).toBe(true);
  const commits = job.lines.filter(committed);
  expect(commits[0]?.parent, "the first commit builds on --from").toBe(String(from));
  expect(commits.at(-1)?.block).toBe(String(until));

  const sqlite = new DatabaseSync(db);
  try {
    const slots = sqlite.prepare("SELECT DISTINCT block FROM tidemark_history ORDER BY block").all() as {
      block: Uint8Array;
    }[];
    const numbers = slots.map((row) => Buffer.from(row.block).readBigUInt64BE(1));
    expect(numbers[0], "the --from block itself is not ingested").toBeGreaterThan(from);
    const committedRows = numbers.filter((slot) => slot <= until);
    expect(committedRows.length).toBeGreaterThan(0);
    const lock = sqlite.prepare("SELECT released FROM tidemark_locks").get() as { released: number };
    expect(lock.released, "the lock row is released").toBe(1);
  } finally {
    sqlite.close();
  }
});
