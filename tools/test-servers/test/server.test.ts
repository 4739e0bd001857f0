import { existsSync, readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerSpec, TestServer } from "../src/index.js";

/** A tiny HTTP server in node that also spawns a long-sleeping grandchild and prints its pid. */
const script = `
const { spawn } = require("node:child_process");
const http = require("node:http");
const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
console.log("grandchild " + child.pid);
http.createServer((req, res) => res.end("ok")).listen(Number(process.argv[1]), "127.0.0.1");
`;

const httpSpec = (overrides: Partial<ServerSpec> = {}): ServerSpec => ({
  name: "fake",
  binary: process.execPath,
  args: ({ ports: [port] }) => ["-e", script, String(port)],
  ready: async ({ host, ports: [port] }, signal) => (await fetch(`http://${host}:${port}/`, { signal })).ok,
  startTimeoutMs: 10_000,
  ...overrides,
});

const started: TestServer[] = [];
afterEach(async () => {
  for (const server of started.splice(0)) await server.close();
});

/** Running, that is: neither gone nor a zombie (an orphan's parent, PID 1 in a container, may never reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe("TestServer", () => {
  it("starts a binary on a free loopback port and stops its whole process group", async () => {
    const server = await TestServer.start(httpSpec());
    started.push(server);
    const [port] = server.context.ports;
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("ok");
    await expect.poll(() => /grandchild (\d+)/.test(server.output())).toBe(true);
    const grandchild = Number(/grandchild (\d+)/.exec(server.output())?.[1]);
    expect(alive(grandchild)).toBe(true);
    await server.stop();
    expect(server.running).toBe(false);
    await expect.poll(() => alive(grandchild)).toBe(false);
    expect(existsSync(server.context.dir), "the directory survives stop").toBe(true);
  });

  it("starts again on the same port and directory, and removes the directory on close", async () => {
    const server = await TestServer.start(httpSpec());
    const [port] = server.context.ports;
    await server.stop({ signal: "SIGKILL" });
    await server.start();
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("ok");
    await server.close();
    expect(existsSync(server.context.dir)).toBe(false);
  });

  it("fails loudly with the binary's output when it exits before answering", async () => {
    const failing = TestServer.start(
      httpSpec({ args: () => ["-e", "console.error('boom: cannot bind'); process.exit(3)"] }),
    );
    await expect(failing).rejects.toThrow(/exited with code 3[\s\S]*boom: cannot bind/);
  });

  it("names the binary and how to install it when it is missing", async () => {
    const missing = TestServer.start(
      httpSpec({ binary: "/nonexistent/fake-server", installHint: "apt-get install fake" }),
    );
    await expect(missing).rejects.toThrow(/"\/nonexistent\/fake-server" not found \(apt-get install fake\)/);
  });

  it("gives up after the start timeout, killing the process", async () => {
    const silent = TestServer.start(
      httpSpec({ args: () => ["-e", "setTimeout(() => {}, 60000)"], startTimeoutMs: 500 }),
    );
    await expect(silent).rejects.toThrow(/did not answer within 500 ms/);
    await delay(50);
  });
});
