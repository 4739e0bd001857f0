import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pointerFromNumber } from "@tidemark/core";
import { kinHistoryCodec, solanaPointer } from "@tidemark/kin";
import { SqliteHistoryStore } from "@tidemark/sqlite";
import { expect, it } from "vitest";
import { Cli, type LogLine, runToEnd, workdir } from "./cli-process.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = workdir();

/** Reads a child's stdout slowly, as `| slow-consumer` would, and counts its lines. */
function countLinesSlowly(args: string[]): Promise<{ lines: number; code: number | null }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), 20);
  });
  return new Promise((resolve) => {
    child.stdout.once("end", () => {
      child.once("exit", (code) => resolve({ lines: text.split("\n").filter(Boolean).length, code }));
      if (child.exitCode !== null) resolve({ lines: text.split("\n").filter(Boolean).length, code: child.exitCode });
    });
  });
}

it("flushes every line of a long --json listing into a slow pipe before it exits", async () => {
  const simulator = new Cli(["simulate", "--block-ms", "0", "--backlog", "120"], { cwd: dir });
  const served = (await simulator.waitFor((line) => typeof line.rpc === "string", 60_000)) as LogLine & {
    rpc: string;
    firstSlot: string;
    lastSlot: string;
  };
  const db = join(dir, "piped.db");
  try {
    const range = ["--from", served.firstSlot, "--until", served.lastSlot];
    const ingested = await runToEnd(["run", "--rpc", served.rpc, "--store", `sqlite:${db}`, ...range], dir, {
      TIDEMARK_STATUS: "off",
    });
    expect(ingested.code, ingested.stderr).toBe(0);
  } finally {
    simulator.child.kill("SIGTERM");
    await simulator.exited;
  }
  const store = new SqliteHistoryStore({ path: db, codec: kinHistoryCodec, ingestor: "history_KIN4" });
  const stored = await store.getBlockRange(pointerFromNumber(0), solanaPointer(BigInt(served.lastSlot)));
  await store.close();
  expect(stored.length, "transactions ingested").toBeGreaterThan(150);

  const read = await countLinesSlowly(["history", "blocks", "0", served.lastSlot, "--store", `sqlite:${db}`, "--json"]);
  expect(read.code).toBe(0);
  expect(read.lines, "lines that reached the slow reader").toBe(stored.length);
});
