import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

interface JsonReport {
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

// The kit must be able to fail: run the lock suite against a lock that does nothing, and the
// committer suite against a committer that ignores the parent.
it("fails every safety test of the lock suite when the lock does nothing, and the committer suite's CAS tests when the parent is ignored", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tidemark-control-"));
  try {
    const output = join(dir, "report.json");
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("VITEST")));
    await new Promise<void>((resolve) => {
      execFile(
        join(packageDir, "node_modules", ".bin", "vitest"),
        ["run", "--config", "test/control/vitest.config.ts", "--reporter=json", `--outputFile=${output}`],
        { cwd: packageDir, env, timeout: 120_000 },
        () => resolve(),
      );
    });
    const report = JSON.parse(await readFile(output, "utf8")) as JsonReport;
    const statuses = new Map(
      report.testResults.flatMap((file) => file.assertionResults.map((t) => [t.fullName, t.status] as const)),
    );
    const mustFail = [
      "gives exclusive access to one holder per key",
      "returns the same lease when locked again by its holder",
      "rejects a waiting lock() within a second of its signal aborting, and never acquires afterwards",
      "hands the lock to a waiter within one poll interval of unlock",
      "never lets 8 contenders overlap, and all of them acquire",
      "lets a contender take over a crashed holder's lock, not before the lease ran out",
      "aborts the holder's lease signal soon after the lock is taken away",
      "rejects a frozen holder's fenced commit after a contender acquired, leaving the pointer unchanged",
      "aborts the lease of a holder cut off from the backend before a contender can acquire",
      "does not let a stale holder's unlock() release the holder that took over",
      "gives a new lease, with a larger token where there are tokens, when locked again after a loss",
      "never keeps a lock whose lock() was aborted while the acquiring write was in flight",
      "closes idempotently and releases what it holds",
      "rejects a commit with an aborted lease with LockLostError and writes nothing",
      "moves a fence only up: a stale holder fencing after its successor still cannot commit",
      "lets only the new holder win when old and new holders commit at the same moment",
      // parent-ignoring committer
      "rejects gap, backwards, stale and no-op commits, leaving the pointer unchanged",
      "lets exactly one of 16 concurrent commits from the same parent win",
      // history store that drops every other write
      "hides entries above the committed pointer and shows them once it moves",
      "pages an account ascending and descending with cursors: every entry exactly once, blocks shared",
      "returns block ranges in order, and nothing for unknown accounts and transactions",
      "stores every entry exactly once when two writers write the same blocks at once",
    ];
    for (const title of mustFail) {
      const found = [...statuses].find(([name]) => name.endsWith(title));
      expect(found, `control test "${title}" ran`).toBeDefined();
      expect(found?.[1], `control test "${title}"`).toBe("failed");
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);
