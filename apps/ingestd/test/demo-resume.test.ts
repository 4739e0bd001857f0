import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { expect, it } from "vitest";
import { Cli, committed, workdir } from "./cli-process.js";

const dir = workdir();

it("ingests the demo, stops on SIGTERM releasing the lock, and resumes without a gap or a duplicate", async () => {
  const db = join(dir, "demo.db");
  const args = ["run", "--demo", "--store", `sqlite:${db}`, "--log-level", "debug", "--status", "off"];
  const commits: { parent: string | null; block: string }[] = [];

  for (let round = 0; round < 2; round++) {
    const cli = new Cli(args, { cwd: dir });
    await cli.waitFor((line) => committed(line) && cli.lines.filter(committed).length >= 3);
    const stoppedAt = performance.now();
    cli.child.kill("SIGTERM");
    const { code } = await cli.exited;
    expect(code, `exit code of round ${round}`).toBe(0);
    expect(performance.now() - stoppedAt, "ms from SIGTERM to exit").toBeLessThan(5000);
    expect(
      cli.lines.some((l) => l.event === "released"),
      "released the lock on SIGTERM",
    ).toBe(true);
    for (const line of cli.lines.filter(committed))
      commits.push({ parent: line.parent as string | null, block: line.block as string });
  }

  // Every commit builds on the previous one, across the restart: nothing skipped, nothing twice.
  for (let i = 1; i < commits.length; i++) {
    expect(commits[i]?.parent, `commit ${i} builds on commit ${i - 1}`).toBe(commits[i - 1]?.block);
  }
  const sqlite = new DatabaseSync(db);
  try {
    const rows = sqlite.prepare("SELECT count(*) AS n FROM tidemark_history").get() as { n: number };
    expect(rows.n).toBeGreaterThan(0);
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
