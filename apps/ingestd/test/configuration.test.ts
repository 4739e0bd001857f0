import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { workdir } from "./cli-process.js";

const dir = workdir();

/** The CLI in-process (the same code the binary runs), for errors that need no running service. */
async function runToEnd(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: { ...env, TIDEMARK_STORE: env.TIDEMARK_STORE ?? `sqlite:${cwd}/config-test.db` },
    signal: AbortSignal.abort(new Error("not meant to run")),
  });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

describe("bad configuration", () => {
  it.each([
    [["run", "--chain", "kin5"], /--chain: unknown chain "kin5"/],
    [["run", "--rpc", "not a url"], /--rpc: not a URL/],
    [["run", "--rpc", "ftp://x"], /--rpc: must be an http\(s\) URL/],
    [["run", "--metrics-port", "99999"], /--metrics-port: must be a TCP port/],
    [
      ["run", "--workers", "-1"],
      /--workers: must be 0 \(blocks read on the main thread\) or a number of worker threads, got "-1"/,
    ],
    [["run", "--store", "redis://secret@db"], /--store: unknown store kind "redis"/],
    [["run", "--until", "abc"], /--until: must be a block number/],
    [["run", "--from", "10", "--until", "5"], /--until: must be after --from/],
    [["run", "--horizon", "http://127.0.0.1:1", "--chain", "kin2,kin3"], /separate Horizon servers/],
    [["run", "--bogus"], /unknown option '--bogus'/],
    [["commits", "set", "kin4", "12"], /--force/],
    [["commits", "get", "kin9"], /<chain>: unknown chain "kin9"/],
  ])("tidemark %j fails with a message naming the field", async (args, message) => {
    const { code, stderr } = await runToEnd(args as string[], dir);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it("rejects a config file with an unknown key, naming the file and key", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ store: "sqlite:./x.db", rpcc: "http://x" }));
    const { code, stderr } = await runToEnd(["run", "--config", file], dir);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}: "rpcc": unknown setting`);
  });

  it("rejects a config file that is not JSON, and a value of the wrong type", async () => {
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ store: ");
    expect((await runToEnd(["run", "--config", broken], dir)).stderr).toMatch(/not valid JSON/);
    const wrongType = join(dir, "wrong-type.json");
    writeFileSync(wrongType, JSON.stringify({ metricsPort: "eighty" }));
    const result = await runToEnd(["run", "--config", wrongType], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${wrongType}: "metricsPort": must be a TCP port`);
  });

  it("lets a flag override the environment, which overrides the file", async () => {
    const file = join(dir, "ports.json");
    writeFileSync(file, JSON.stringify({ metricsPort: "file" }));
    const fromEnv = await runToEnd(["run", "--config", file], dir, { TIDEMARK_METRICS_PORT: "env" });
    expect(fromEnv.stderr).toContain('TIDEMARK_METRICS_PORT: must be a TCP port (0-65535), got "env"');
    const fromFlag = await runToEnd(["run", "--config", file, "--metrics-port", "flag"], dir, {
      TIDEMARK_METRICS_PORT: "env",
    });
    expect(fromFlag.stderr).toContain('--metrics-port: must be a TCP port (0-65535), got "flag"');
  });
});
