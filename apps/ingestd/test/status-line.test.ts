import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { workdir } from "./cli-process.js";

const dir = workdir();
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

// util-linux's `script` gives the CLI a real terminal, as a user's shell would.
it("shows a live status line on a terminal: committed slot, head, lag and rates", async () => {
  const command = `${process.execPath} ${bin} run --demo --store sqlite:${join(dir, "tty.db")}`;
  const child = spawn("script", ["-qec", command, "/dev/null"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const deadline = Date.now() + 30_000;
  while (
    !/kin4 leader {2}slot \d+ {2}head \d+ {2}lag \d+ {2}[\d.]+ blocks\/s {2}[\d.]+ tx\/s/.test(output) &&
    Date.now() < deadline
  ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill("SIGINT");
  await exited;
  expect(output).toContain("tidemark: ingesting kin4 (history_KIN4) from the simulated network");
  // Each redraw returns the cursor and clears the line (ESC [2K) before printing.
  expect(output).toContain("\r\u001b[2Kkin4 leader  slot ");
});
