// `tidemark serve`'s settings: flags, TIDEMARK_* variables and the config file, each refusal one line
// that names the setting as the user gave it, exit code 2, and nothing created.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { resolveServeConfig } from "../src/serve-config.js";

const PASSWORD = "Sup3r-S3cret";
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Case {
  readonly args: readonly string[];
  /** The one line on stderr contains this. */
  readonly says: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly files?: Readonly<Record<string, string>>;
}

/** The CLI in-process in a fresh directory, with an aborted signal: a refused input never starts the server. */
async function check(c: Case): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tidemark-serve-config-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), text);
  const err: string[] = [];
  const previous = process.cwd();
  process.chdir(dir);
  let code: number;
  try {
    code = await runCli(["serve", ...c.args], {
      out: () => {},
      err: (line) => err.push(line),
      env: c.env ?? {},
      signal: AbortSignal.abort(new Error("a refused input must not start anything")),
    });
  } finally {
    process.chdir(previous);
  }
  expect(err, "exactly one line on stderr").toHaveLength(1);
  expect(err[0]).toMatch(/^tidemark: /);
  expect(err[0]).toContain(c.says);
  expect(err[0]).not.toContain(PASSWORD);
  expect(code, err.join("\n")).toBe(2);
  expect(readdirSync(dir).sort(), "nothing created").toEqual(Object.keys(c.files ?? {}).sort());
}

const json = (value: unknown) => JSON.stringify(value);

describe("serve refuses", () => {
  it.each<Case>([
    { args: [], says: "--port: required: the port to serve gRPC and Connect on (0: any free port)" },
    { args: ["--port", "70000"], says: '--port: must be a TCP port (0-65535), got "70000"' },
    { args: ["--port", " 80"], says: '--port: must be a TCP port (0-65535), got " 80"' },
    {
      args: [],
      env: { TIDEMARK_SERVE_PORT: "0x50" },
      says: 'TIDEMARK_SERVE_PORT: must be a TCP port (0-65535), got "0x50"',
    },
    {
      args: ["--config", "config.json"],
      files: { "config.json": json({ servePort: true }) },
      says: 'config.json: "servePort": must be a TCP port (0-65535), got true',
    },
    { args: ["--port", "0", "--host", "http://0.0.0.0"], says: "--host: must be a host name or IP address" },
    {
      args: ["--port", "0"],
      env: { TIDEMARK_SERVE_HOST: "127.0.0.1:80" },
      says: "TIDEMARK_SERVE_HOST: must be a host name or IP address",
    },
    { args: ["--port", "0", "--chain", "kin5"], says: '--chain: unknown chain "kin5"' },
    {
      args: ["--port", "0", "--metrics-port", "65536"],
      says: '--metrics-port: must be a TCP port (0-65535), got "65536"',
    },
    {
      args: ["--port", "0", "--log-level", "loud"],
      says: '--log-level: must be one of trace, debug, info, warn, error, silent, got "loud"',
    },
    {
      args: ["--port", "0", "--history", "etcd://127.0.0.1:2379"],
      says: "--history: etcd keeps commits and locks only, not history",
    },
    {
      args: ["--port", "0", "--store", "etcd://127.0.0.1:2379"],
      says: "--history: the --store keeps commits and locks only",
    },
    {
      args: ["--port", "0", "--history", `postgres://tidemark:${PASSWORD}/@127.0.0.1:1/db`],
      says: "--history: the user name and password in this URL (postgres://***@127.0.0.1:1…) must be percent-encoded",
    },
    {
      args: ["--config", "config.json"],
      files: { "config.json": json({ servePort: 0, servePortt: 1 }) },
      says: 'config.json: "servePortt": unknown setting (known: ',
    },
    // A read-only command never creates the database it was pointed at.
    { args: ["--port", "0", "--history", "sqlite:missing.db"], says: 'no such database file "missing.db"' },
  ])("$says", check);

  it("reads one config file with `run`'s settings too: run's keys are not unknown to serve", async () => {
    await check({
      args: ["--config", "config.json"],
      files: { "config.json": json({ rpc: "http://127.0.0.1:1", servePort: 0, history: "sqlite:missing.db" }) },
      says: 'no such database file "missing.db"',
    });
  });
});

describe("serve's settings", () => {
  it("default to kin4 on 127.0.0.1, reading the commits beside the history", () => {
    const config = resolveServeConfig({ flags: { history: "sqlite:h.db", port: "0" }, env: {} });
    expect(config).toEqual({
      store: "sqlite:h.db",
      history: "sqlite:h.db",
      chains: ["kin4"],
      port: 0,
      host: "127.0.0.1",
      logLevel: "info",
    });
  });

  it("take flags over variables over the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "tidemark-serve-config-"));
    dirs.push(dir);
    const file = join(dir, "config.json");
    writeFileSync(
      file,
      json({ servePort: 1, serveHost: "::1", chains: ["kin3"], metricsPort: 3, store: "sqlite:f.db" }),
    );
    const config = resolveServeConfig({
      flags: { port: "2", config: file },
      env: { TIDEMARK_SERVE_PORT: "9", TIDEMARK_SERVE_HOST: "0.0.0.0", TIDEMARK_CHAIN: "kin2,kin4" },
    });
    expect(config).toEqual({
      store: "sqlite:f.db",
      history: "sqlite:f.db",
      chains: ["kin2", "kin4"],
      port: 2,
      host: "0.0.0.0",
      metricsPort: 3,
      logLevel: "info",
    });
  });

  it("keep the history apart from an etcd store", () => {
    const config = resolveServeConfig({
      flags: { store: "etcd://127.0.0.1:2379", history: "sqlite:h.db", port: "0" },
      env: {},
    });
    expect(config.store).toBe("etcd://127.0.0.1:2379");
    expect(config.history).toBe("sqlite:h.db");
  });
});
