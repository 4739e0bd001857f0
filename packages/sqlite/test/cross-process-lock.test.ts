import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { temporaryDatabase } from "./temp-database.js";

const holderScript = fileURLToPath(new URL("./fixtures/lock-holder.mjs", import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

interface Holder {
  child: ChildProcess;
  acquired: Promise<{ at: number; token: string }>;
}

function startHolder(path: string, key: string): Holder {
  const child = spawn(process.execPath, [holderScript, path, key], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const acquired = new Promise<{ at: number; token: string }>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const message = JSON.parse(line) as { event: string; at: number; token: string };
      if (message.event === "acquired") resolve(message);
    });
    child.once("exit", (code) => reject(new Error(`lock holder exited with ${code} before acquiring`)));
  });
  acquired.catch(() => {});
  return { child, acquired };
}

it("lets one process hold the lock at a time and another take over after SIGKILL, within the lease", async () => {
  const path = temporaryDatabase();
  const first = startHolder(path, "ingestor_history_kin4");
  const { token: firstToken } = await first.acquired;
  const second = startHolder(path, "ingestor_history_kin4");
  const early = await Promise.race([second.acquired.then(() => "acquired"), sleep(2500).then(() => "waiting")]);
  expect(early, "second process while the first holds").toBe("waiting");
  const killedAt = Date.now();
  first.child.kill("SIGKILL");
  const { at, token } = await second.acquired;
  expect(at).toBeGreaterThanOrEqual(killedAt);
  // The first renewed at most one heartbeat before the kill, so the lease ran out by kill + 1.5 s.
  expect(at - killedAt, "ms from SIGKILL to takeover").toBeLessThanOrEqual(1500 + 1000);
  expect(BigInt(token)).toBeGreaterThan(BigInt(firstToken));
}, 30_000);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
