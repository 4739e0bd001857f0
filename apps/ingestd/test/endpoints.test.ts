import { join } from "node:path";
import { expect, it } from "vitest";
import { Cli, committed, workdir } from "./cli-process.js";

const dir = workdir();

it("serves /metrics, /healthz, /ready and /leader over HTTP while ingesting", async () => {
  const cli = new Cli(
    [
      "run",
      "--demo",
      "--store",
      `sqlite:${join(dir, "m.db")}`,
      "--metrics-port",
      "0",
      "--log-level",
      "debug",
      "--status",
      "off",
    ],
    { cwd: dir },
  );
  const { port } = (await cli.waitFor((line) => typeof line.port === "number")) as { port: number };
  await cli.waitFor((line) => committed(line) && cli.lines.filter(committed).length >= 3);
  const base = `http://127.0.0.1:${port}`;

  const health = await fetch(`${base}/healthz`);
  expect(health.status).toBe(200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  expect(metrics).toMatch(/tidemark_history_commits\{ingestor="history_KIN4"\} [1-9]/);
  expect(metrics).toMatch(/tidemark_history_last_ingestion_time_unix\{ingestor="history_KIN4"\} \d{10}/);
  expect(metrics).toContain("tidemark_history_restarts");
  expect(metrics).toContain("tidemark_history_lag_blocks");
  expect(metrics).toContain("# TYPE tidemark_rpc_errors counter");
  expect(metrics).toContain('tidemark_rpc_consecutive_failures{ingestor="history_KIN4"} 0');
  expect(metrics).toContain('tidemark_history_leader{ingestor="history_KIN4"} 1');
  expect(metrics).toContain('tidemark_history_lock_acquisitions{ingestor="history_KIN4"} 1');
  const leader = await fetch(`${base}/leader`);
  expect(leader.status).toBe(200);
  expect(await leader.json()).toEqual({ chains: [{ chain: "kin4", leader: true }] });
  // Head polling runs every 2 s; once it has, the demo keeps the node caught up.
  let ready = await fetch(`${base}/ready`);
  for (let i = 0; i < 20 && ready.status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    ready = await fetch(`${base}/ready`);
  }
  expect(ready.status).toBe(200);
  const body = (await ready.json()) as { ready: boolean; chains: Record<string, unknown>[] };
  expect(body.ready).toBe(true);
  expect(body.chains).toEqual([{ chain: "kin4", ready: true, leader: true, lag: expect.stringMatching(/^\d+$/) }]);
  expect((await fetch(`${base}/nope`)).status).toBe(503);
  cli.child.kill("SIGTERM");
  expect((await cli.exited).code).toBe(0);
});
