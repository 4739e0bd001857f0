// The bad-input corpus: every input an operator can get wrong, each refused with its exit code, one
// line naming the culprit, no password anywhere and no file left behind in the working directory.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { confirmByTyping } from "../src/confirm.js";
import { nodeVersionProblem } from "../src/node-version.js";
import { Cli, runToEnd } from "./cli-process.js";

const PASSWORD = "Sup3r-S3cret";
const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh empty working directory for one case. */
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tidemark-bad-input-"));
  dirs.push(dir);
  return dir;
}

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The CLI in-process, in `dir` (relative store paths resolve there), with only `env` as its
 * environment and an aborted signal: a refused input never reaches the service, and a regression
 * that does stops at once.
 */
async function inProcess(args: readonly string[], dir: string, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const previous = process.cwd();
  process.chdir(dir);
  try {
    const code = await runCli(args, {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env,
      signal: AbortSignal.abort(new Error("a refused input must not start anything")),
    });
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    process.chdir(previous);
  }
}

/** The built binary, for what needs a process of its own: the service's start order, the Node check. */
async function viaProcess(args: readonly string[], dir: string, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const { code, stdout, stderr } = await runToEnd(args, dir, env);
  return { code, stdout: stdout.map((line) => JSON.stringify(line)).join("\n"), stderr };
}

interface Case {
  readonly args: readonly string[];
  /** The one line on stderr must contain this (the culprit's name and the complaint). */
  readonly says: string;
  readonly code: 1 | 2;
  readonly env?: NodeJS.ProcessEnv;
  /** Files written into the working directory first (a config file); they are all it may hold afterwards. */
  readonly files?: Readonly<Record<string, string>>;
}

/** Runs a case and checks everything the corpus promises. */
async function check(c: Case, run: typeof inProcess = inProcess): Promise<void> {
  const dir = freshDir();
  for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), text);
  const outcome = await run(c.args, dir, c.env);
  const lines = outcome.stderr.trim().split("\n");
  expect(lines, "exactly one line on stderr").toHaveLength(1);
  expect(lines[0]).toMatch(/^tidemark: /);
  expect(lines[0]).toContain(c.says);
  expect(outcome.code, outcome.stderr).toBe(c.code);
  for (const text of [outcome.stdout, outcome.stderr]) {
    expect(text).not.toContain(PASSWORD);
    expect(text.toLowerCase()).not.toContain(PASSWORD.toLowerCase());
  }
  expect(readdirSync(dir).sort(), "files in the working directory afterwards").toEqual(
    Object.keys(c.files ?? {}).sort(),
  );
}

const json = (value: unknown) => JSON.stringify(value);
const TWO_TO_64 = "18446744073709551616";
const MAX_SAFE = "9007199254740991";

describe("configuration values of the wrong type or form", () => {
  it.each<Case>([
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ metricsPort: true }) },
      says: 'config.json: "metricsPort": must be a TCP port (0-65535), got true',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ leaseMs: true }) },
      says: 'config.json: "leaseMs": must be a positive integer',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ from: [5] }) },
      says: 'config.json: "from": must be a block number (slot or ledger), got [5]',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ until: 12.5 }) },
      says: 'config.json: "until": must be a block number',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ coalesce: "maybe" }) },
      says: 'config.json: "coalesce": must be true or false, got "maybe"',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ chains: [4] }) },
      says: 'config.json: "chains": must name chains',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ rpc: 8899 }) },
      says: 'config.json: "rpc": must be a non-empty string',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json({ store: `postgres://tidemark:${PASSWORD}@127.0.0.1:1/db`, storee: 1 }) },
      says: 'config.json: "storee": unknown setting',
      code: 2,
    },
    {
      args: ["run", "--config", "config.json"],
      files: { "config.json": json([{ store: "sqlite:x.db" }]) },
      says: "config.json: must hold a JSON object",
      code: 2,
    },
    { args: ["run", "--config", "missing.json"], says: '--config: cannot read "missing.json": ENOENT', code: 2 },
    {
      args: ["run"],
      env: { TIDEMARK_CONFIG: "missing.json" },
      says: 'TIDEMARK_CONFIG: cannot read "missing.json": ENOENT',
      code: 2,
    },
    { args: ["run", "--lease-ms", "0x10"], says: "--lease-ms: must be a positive integer", code: 2 },
    { args: ["run", "--lease-ms", "99999999999999999999"], says: "--lease-ms: must be a positive integer", code: 2 },
    { args: ["run", "--lease-ms", "1"], says: '(milliseconds, 100 to 2147483647), got "1"', code: 2 },
    { args: ["run", "--until", "0x10"], says: '--until: must be a block number (slot or ledger), got "0x10"', code: 2 },
    { args: ["run", "--from", " 5"], says: '--from: must be a block number (slot or ledger), got " 5"', code: 2 },
    {
      args: ["run", "--metrics-port", "1e3"],
      says: '--metrics-port: must be a TCP port (0-65535), got "1e3"',
      code: 2,
    },
    {
      args: ["run"],
      env: { TIDEMARK_METRICS_PORT: "65536" },
      says: 'TIDEMARK_METRICS_PORT: must be a TCP port (0-65535), got "65536"',
      code: 2,
    },
    { args: ["run"], env: { TIDEMARK_DEMO: "yes" }, says: 'TIDEMARK_DEMO: must be true or false, got "yes"', code: 2 },
    {
      args: ["run"],
      env: { TIDEMARK_COALESCE: "0" },
      says: 'TIDEMARK_COALESCE: must be true or false, got "0"',
      code: 2,
    },
    {
      args: ["run", "--unready-after-failures", "0"],
      says: '--unready-after-failures: must be a positive integer, got "0"',
      code: 2,
    },
    {
      args: ["run"],
      env: { TIDEMARK_UNREADY_AFTER_FAILURES: "-1" },
      says: 'TIDEMARK_UNREADY_AFTER_FAILURES: must be a positive integer, got "-1"',
      code: 2,
    },
    {
      args: ["run", "--status", "sometimes"],
      says: '--status: must be one of auto, on, off, got "sometimes"',
      code: 2,
    },
    { args: ["run", "--log-level", "loud"], says: "--log-level: must be one of trace, debug", code: 2 },
    { args: ["run", "--rpc", `https://user:${PASSWORD}@[::1`], says: "--rpc: not a URL", code: 2 },
    {
      args: ["run", "--rpc", `ftp://user:${PASSWORD}@host`],
      says: '--rpc: must be an http(s) URL, got "ftp:"',
      code: 2,
    },
    { args: ["run", "--store", `redis://user:${PASSWORD}@db`], says: '--store: unknown store kind "redis"', code: 2 },
    { args: ["run", "--store", "sqlite:"], says: '--store: must be sqlite:PATH, got "sqlite:"', code: 2 },
    {
      args: [
        "run",
        "--store",
        `etcd://root:${PASSWORD}@127.0.0.1:1`,
        "--history",
        `etcd://root:${PASSWORD}@127.0.0.1:1`,
      ],
      says: "--history: etcd keeps commits and locks only",
      code: 2,
    },
    { args: ["run", "--bogus"], says: "unknown option '--bogus'", code: 2 },
    {
      args: ["simulate", "--port", "0x10"],
      says: '--port: must be a whole number from 0 to 65535, got "0x10"',
      code: 2,
    },
    {
      args: ["history", "account", "abc", "--limit", "1e2"],
      says: '--limit: must be a whole number from 1 to 9007199254740991, got "1e2"',
      code: 2,
    },
  ])("$args $env $files", (c) => check(c));
});

describe("block numbers the chain clients cannot take", () => {
  it.each<Case>([
    // Before the fix these exited 1 after creating ./tidemark.db and logging "starting ingestion".
    { args: ["run", "--from", TWO_TO_64], says: "--from: must be at most 9007199254740990 for kin4", code: 2 },
    { args: ["run", "--until", TWO_TO_64], says: "--until: must be at most 9007199254740991 for kin4", code: 2 },
    // The slot the issue saw retried forever: @solana/kit refuses anything above 2^53-1.
    { args: ["run", "--until", "18446744073709551614"], says: "--until: must be at most 9007199254740991", code: 2 },
    // --from 2^53-1 would make 2^53 the first slot requested.
    { args: ["run", "--from", MAX_SAFE], says: `--from: must be at most 9007199254740990 for kin4`, code: 2 },
    { args: ["run"], env: { TIDEMARK_FROM: TWO_TO_64 }, says: "TIDEMARK_FROM: must be at most", code: 2 },
    {
      args: ["run", "--chain", "kin3", "--horizon", "http://127.0.0.1:1", "--until", "2147483648"],
      says: "--until: must be at most 2147483647 for kin3",
      code: 2,
    },
    { args: ["run", "--from", "10", "--until", "10"], says: "--until: must be after --from (10), got 10", code: 2 },
    {
      args: ["commits", "set", "kin4", TWO_TO_64, "--force", "--store", "sqlite:x.db"],
      says: "<block>: must be at most 9007199254740990 for kin4",
      code: 2,
    },
    {
      args: ["commits", "set", "kin2", "2147483647", "--force", "--store", "sqlite:x.db"],
      says: "<block>: must be at most 2147483646 for kin2",
      code: 2,
    },
    {
      args: ["history", "blocks", "0", TWO_TO_64, "--store", "sqlite:x.db"],
      says: "<to>: must be at most 9007199254740991 for kin4",
      code: 2,
    },
    {
      args: ["history", "blocks", "200", "100", "--store", "sqlite:x.db"],
      says: "<to>: must not be below <from> (200), got 100",
      code: 2,
    },
  ])("$args $env", (c) => check(c));

  it("refuses --from 2^64 in the real binary before any store exists", () =>
    check({ args: ["run", "--from", TWO_TO_64], says: "--from: must be at most", code: 2 }, viaProcess));
});

describe("commands that only read never create a store", () => {
  const mistyped = "sqlite:./tidemrak.db";
  it.each<Case>([
    { args: ["commits", "list", "--store", mistyped], says: 'no such database file "./tidemrak.db"', code: 2 },
    { args: ["commits", "status", "--store", mistyped], says: 'no such database file "./tidemrak.db"', code: 2 },
    { args: ["commits", "get", "kin4", "--store", mistyped], says: 'no such database file "./tidemrak.db"', code: 2 },
    // The default store, ./tidemark.db, when nothing ever ran here.
    { args: ["commits", "list"], says: 'no such database file "./tidemark.db"', code: 2 },
    { args: ["history", "blocks", "0", "10", "--store", mistyped], says: "no such database file", code: 2 },
    { args: ["history", "account", "abc", "--store", mistyped], says: "no such database file", code: 2 },
    { args: ["history", "tx", "1".repeat(64), "--store", mistyped], says: "no such database file", code: 2 },
    {
      args: ["history", "blocks", "0", "10", "--store", `etcd://root:${PASSWORD}@127.0.0.1:1`, "--history", mistyped],
      says: 'no such database file "./tidemrak.db"',
      code: 2,
    },
    { args: ["store", "init", "--store", "sqlite:./no-dir/x.db"], says: "its directory does not exist", code: 2 },
    { args: ["commits", "set", "kin4", "5", "--store", "sqlite:./x.db"], says: "--force: setting a commit", code: 2 },
  ])("$args", (c) => check(c));
});

describe("a store that exists", () => {
  it("is created by store init with every table, and then read by the read-only commands", async () => {
    const dir = freshDir();
    expect((await inProcess(["store", "init", "--store", "sqlite:./s.db"], dir)).code).toBe(0);
    const status = await inProcess(["commits", "status", "--json", "--store", "sqlite:./s.db"], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout.split("\n").map((line) => JSON.parse(line).block)).toEqual([null, null, null]);
    const blocks = await inProcess(["history", "blocks", "0", "10", "--json", "--store", "sqlite:./s.db"], dir);
    expect(blocks).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(readdirSync(dir)).toEqual(["s.db"]);
  });
});

describe("store URLs the drivers refuse", () => {
  it.each<Case>([
    { args: ["commits", "list", "--store", "mongodb://"], says: "--store", code: 2 },
    {
      args: ["commits", "list", "--store", `mongodb://admin:${PASSWORD}@127.0.0.1:1/?foo=bar`],
      says: "--store",
      code: 2,
    },
    {
      args: ["commits", "list", "--store", `mongodb+srv://admin:${PASSWORD}@127.0.0.1:1`],
      says: "--store",
      code: 2,
    },
    { args: ["commits", "list", "--store", `mongodb://admin:${PASSWORD}@127.0.0.1:99999`], says: "--store", code: 2 },
    // The driver refuses the database name only at the first request; it is still the URL's fault.
    {
      args: ["commits", "list", "--store", `mongodb://admin:${PASSWORD}@127.0.0.1:1/bad.db`],
      says: "--store",
      code: 2,
    },
    {
      args: ["commits", "list", "--store", `etcd://root:Sup3r/${PASSWORD}@127.0.0.1:23795`],
      says: "--store: the user name and password",
      code: 2,
    },
    {
      args: ["commits", "list", "--store", `mongodb://admin:Sup3r@${PASSWORD}@127.0.0.1:1`],
      says: "--store: the user name and password",
      code: 2,
    },
  ])("$args", (c) => check(c));
});

describe("a failed start leaves no file behind", () => {
  const noCredentials = {
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials",
    AWS_CONFIG_FILE: "/nonexistent/config",
    AWS_EC2_METADATA_DISABLED: "true",
    TIDEMARK_STATUS: "off",
    TIDEMARK_LOG_LEVEL: "warn",
  };

  it("DynamoDB without credentials, history in a local SQLite file: exit 2, no tidemark-history.db", () =>
    check(
      {
        args: [
          "run",
          "--store",
          "dynamodb://127.0.0.1:1?region=us-east-1",
          "--history",
          "sqlite:./tidemark-history.db",
          "--log-level",
          "silent",
        ],
        env: noCredentials,
        says: "check the AWS credentials",
        code: 2,
      },
      viaProcess,
    ));

  it("an unreachable etcd, history in a local SQLite file: stopped while waiting, no tidemark-history.db", async () => {
    const dir = freshDir();
    const cli = new Cli(
      [
        "run",
        "--store",
        `etcd://root:${PASSWORD}@127.0.0.1:1`,
        "--history",
        "sqlite:./tidemark-history.db",
        "--status",
        "off",
      ],
      { cwd: dir },
    );
    await cli.waitFor((line) => line.msg === "starting ingestion");
    // The lock is being waited for; before the fix the history file existed already.
    await new Promise((resolve) => setTimeout(resolve, 500));
    cli.child.kill("SIGTERM");
    const { code } = await cli.exited;
    expect(code).toBe(0);
    expect(cli.dump()).not.toContain(PASSWORD);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("commits set backwards", () => {
  async function setTo(dir: string, block: string, stdin?: NodeJS.ReadableStream & { isTTY?: boolean }) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["commits", "set", "kin4", block, "--force", "--store", `sqlite:${join(dir, "c.db")}`], {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: {},
      signal: new AbortController().signal,
      ...(stdin ? { stdin } : {}),
    });
    return { code, out, err };
  }
  const pointer = async (dir: string) => {
    const out: string[] = [];
    await runCli(["commits", "get", "kin4", "--json", "--store", `sqlite:${join(dir, "c.db")}`], {
      out: (line) => out.push(line),
      err: () => {},
      env: {},
      signal: new AbortController().signal,
    });
    return JSON.parse(out[0] as string).block as string;
  };

  it("without a terminal, --force alone sets it and the warning names the hidden range on stderr", async () => {
    const dir = freshDir();
    expect((await setTo(dir, "500")).code).toBe(0);
    const back = await setTo(dir, "120");
    expect(back.code).toBe(0);
    expect(back.err).toEqual([
      "tidemark: warning: history_KIN4: moving the commit back from slot 500 to 120 hides the history of slots 121 to 500 from every reader until they are ingested again",
    ]);
    expect(back.out[1]).toContain("new slot 120");
    expect(await pointer(dir)).toBe("120");
    // Forwards needs no confirmation and warns of nothing.
    expect((await setTo(dir, "130")).err).toEqual([]);
  });

  it("on a terminal, sets it only when the chain name is typed", async () => {
    const dir = freshDir();
    expect((await setTo(dir, "500")).code).toBe(0);
    const terminal = (answer: string) => {
      const stdin = Object.assign(new PassThrough(), { isTTY: true });
      stdin.end(answer);
      return stdin;
    };
    const declined = await setTo(dir, "120", terminal("y\n"));
    expect(declined.code).toBe(1);
    expect(declined.err.at(-1)).toBe("tidemark: history_KIN4: not confirmed; the commit pointer is unchanged");
    expect(declined.err.join("\n")).toContain("type the chain name (kin4) to confirm");
    expect(await pointer(dir)).toBe("500");

    const confirmed = await setTo(dir, "120", terminal("kin4\n"));
    expect(confirmed.code).toBe(0);
    expect(await pointer(dir)).toBe("120");
  });

  it("confirmByTyping: the exact name confirms; anything else, the end of input or an abort declines", async () => {
    const ask = (input: PassThrough, signal?: AbortSignal) => {
      const prompts: string[] = [];
      return {
        prompts,
        answer: confirmByTyping({
          expected: "kin3",
          input,
          write: (t) => prompts.push(t),
          ...(signal ? { signal } : {}),
        }),
      };
    };
    const typed = (text: string) => {
      const input = new PassThrough();
      input.end(text);
      return input;
    };
    const yes = ask(typed("  kin3 \nignored\n"));
    expect(await yes.answer).toBe(true);
    expect(yes.prompts).toEqual(["type the chain name (kin3) to confirm, anything else cancels:"]);
    expect(await ask(typed("kin4\n")).answer).toBe(false);
    expect(await ask(typed("y\n")).answer).toBe(false);
    expect(await ask(typed("")).answer).toBe(false);
    const controller = new AbortController();
    const waiting = ask(new PassThrough(), controller.signal);
    controller.abort();
    expect(await waiting.answer).toBe(false);
  });
});

describe("exit codes and the Node.js version", () => {
  it("documents the exit codes and --unready-after-failures in --help", async () => {
    const dir = freshDir();
    const help = await inProcess(["run", "--help"], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /Exit codes:\n {2}0 {2}done\n {2}1 {2}a runtime failure: .*\n {2}2 {2}bad usage or configuration: /,
    );
    expect(help.stdout).toMatch(
      /--unready-after-failures <n>\s+consecutive failures of a chain request after\s+which \/ready turns false/,
    );
    // Every command's help ends with them.
    expect((await inProcess(["commits", "set", "--help"], dir)).stdout).toContain("Exit codes:");
  });

  it("says which Node.js it needs instead of failing to load node:sqlite (the machine's Node 20)", () => {
    const node20 = spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" });
    expect(node20.stdout).toMatch(/^v(1\d|20|21|22\.(\d|1[0-2]))\./);
    const dir = freshDir();
    const result = spawnSync("/usr/bin/node", [join(dist, "bin.js"), "commits", "list"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`tidemark: needs Node.js >= 22.13 (this is ${node20.stdout.trim()})\n`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("reads the floor from the package's engines field", () => {
    // A copy of bin.js next to a package.json that asks for more than any Node.js has.
    const root = freshDir();
    mkdirSync(join(root, "dist"));
    for (const file of ["bin.js", "node-version.js"]) copyFileSync(join(dist, file), join(root, "dist", file));
    writeFileSync(join(root, "package.json"), json({ type: "module", engines: { node: ">=999.1" } }));
    const result = spawnSync(process.execPath, [join(root, "dist", "bin.js"), "--help"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`tidemark: needs Node.js >= 999.1 (this is ${process.version})\n`);
    expect(nodeVersionProblem("v22.12.9", ">=22.13")).toBe("needs Node.js >= 22.13 (this is v22.12.9)");
    expect(nodeVersionProblem("v22.13.0", ">=22.13")).toBeNull();
    expect(nodeVersionProblem("v24.0.0", ">=22.13")).toBeNull();
    expect(nodeVersionProblem("v20.0.0", "^22 || ^24")).toBeNull();
  });
});
