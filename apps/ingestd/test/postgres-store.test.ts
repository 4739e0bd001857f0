import { freePorts, type PostgresTestServer, startPostgres } from "@tidemark/test-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cli, committed, runToEnd, workdir } from "./cli-process.js";

const dir = workdir();
let postgres: PostgresTestServer;
beforeAll(async () => {
  postgres = await startPostgres();
}, 120_000);
afterAll(async () => {
  await postgres?.close();
});

it("runs on one PostgreSQL database, and its password appears in no log line, error, /metrics or command output", async () => {
  const url = postgres.url;
  const init = await runToEnd(["store", "init", "--store", url], dir, {});
  expect(init.code, init.stderr).toBe(0);
  const [port] = await freePorts(1);
  const node = new Cli(["run", "--demo", "--store", url, "--metrics-port", String(port), "--log-level", "debug"], {
    cwd: dir,
    env: { TIDEMARK_STATUS: "off" },
  });
  await node.waitFor((line) => committed(line) && node.lines.filter(committed).length >= 3, 60_000);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  expect(metrics).toContain("tidemark_");
  node.child.kill("SIGTERM");
  expect((await node.exited).code).toBe(0);
  const last = node.lines.filter(committed).at(-1)?.block as string;

  const list = await runToEnd(["commits", "list", "--store", url, "--json"], dir, {});
  expect(list.code, list.stderr).toBe(0);
  expect(list.stdout.find((line) => line.chain === "kin4")?.block).toBe(last);
  const history = await runToEnd(["history", "blocks", "0", last, "--store", url, "--json"], dir, {});
  expect(history.code, history.stderr).toBe(0);
  expect(history.stdout.length).toBeGreaterThan(0);

  const wrong = url.replace(`:${postgres.password}@`, ":not-the-password@");
  const refused = await runToEnd(["commits", "list", "--store", wrong], dir, {});
  expect(refused.code, "wrong credentials").toBe(2);
  expect(refused.stderr).toMatch(/password authentication failed/);

  const everything = [
    JSON.stringify(node.lines),
    node.stderr.join("\n"),
    metrics,
    JSON.stringify(list.stdout),
    list.stderr,
    JSON.stringify(history.stdout),
    history.stderr,
    JSON.stringify(refused.stdout),
    refused.stderr,
  ].join("\n");
  expect(everything.includes(postgres.password), "the password appears somewhere").toBe(false);
  expect(everything.includes("not-the-password"), "the wrong password appears somewhere").toBe(false);
}, 120_000);
