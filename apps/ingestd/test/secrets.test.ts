import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type DynamoDbLocalTestServer,
  type EtcdTestServer,
  freePorts,
  type MongoJavaTestServer,
  type PostgresTestServer,
  startDynamoDbLocal,
  startEtcd,
  startMongoJavaServer,
  startPostgres,
} from "@tidemark/test-servers";
import { Etcd3 } from "etcd3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { Cli, committed, type LogLine, runToEnd, workdir } from "./cli-process.js";

/**
 * The credential corpus: every store kind with credentials whose password
 * holds "/", "@", ":", "%" and non-ASCII characters, percent-encoded (valid)
 * and raw (refused). Whatever the command and whatever happens (success,
 * refusal, wrong password, unreachable server), no stdout or stderr line, log
 * line, status line, `/metrics` or `/ready` body may show the password.
 */
const PASSWORD = "Sup3r/S3cret@:%ü✓";
const WRONG = "Wr0ng/Pa55w0rd@:%é";
const enc = encodeURIComponent;
/** Anything that would give a password away, compared without letter case. */
const GIVEAWAYS = [PASSWORD, enc(PASSWORD), WRONG, enc(WRONG), "S3cret", "Sup3r", "Pa55w0rd", "Wr0ng"];
/** Raw passwords that must be refused: each holds a character that needs encoding. */
const RAW = ["Sup3r/S3cret", "Sup3r@S3cret", "Sup3r:S3cret", "Sup3r%S3cret", "Sup3rüS3cret", "Sup3r#S3cret"];

const dir = workdir();
let etcd: EtcdTestServer;
let dynamodb: DynamoDbLocalTestServer;
let mongo: MongoJavaTestServer;
let postgres: PostgresTestServer;
/** `HOST:PORT` of each server, and one where nothing listens. */
const at = { etcd: "", dynamodb: "", mongodb: "", postgres: "", closed: "" };

beforeAll(async () => {
  [etcd, dynamodb, mongo, postgres] = await Promise.all([
    startEtcd(),
    startDynamoDbLocal(),
    startMongoJavaServer(),
    startPostgres(),
  ]);
  at.etcd = new URL(etcd.endpoints[0] as string).host;
  at.dynamodb = new URL(dynamodb.endpoint).host;
  at.mongodb = new URL(mongo.uri).host;
  at.postgres = `${postgres.host}:${postgres.port}`;
  // A free port: nothing listens on it.
  at.closed = `127.0.0.1:${(await freePorts(1))[0]}`;
  // Real authentication with the corpus password: etcd's root user, and a PostgreSQL role (scram-sha-256).
  const admin = new Etcd3({ hosts: [...etcd.endpoints] });
  try {
    await admin.role("root").create();
    await admin.user("root").create(PASSWORD);
    await admin.user("root").addRole("root");
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    await client.query(`CREATE ROLE tide LOGIN SUPERUSER PASSWORD ${client.escapeLiteral(PASSWORD)}`);
  } finally {
    await client.end();
  }
}, 120_000);
afterAll(async () => {
  await Promise.all([etcd?.close(), dynamodb?.close(), mongo?.close(), postgres?.close()]);
});

type Kind = "etcd" | "dynamodb" | "mongodb" | "postgres";
const kinds: Kind[] = ["etcd", "dynamodb", "mongodb", "postgres"];

/** A store URL of `kind` at `host` with `userinfo` as given (encode it yourself for a valid URL). */
function storeUrl(kind: Kind, userinfo: string, host: string = at[kind]): string {
  switch (kind) {
    case "etcd":
      return `etcd://${userinfo}@${host}`;
    case "dynamodb":
      return `dynamodb://${userinfo}@${host}?region=us-east-1`;
    case "mongodb":
      // A short server selection, so an unreachable server is reported within a second.
      return `mongodb://${userinfo}@${host}/tidemark?serverSelectionTimeoutMS=1000`;
    case "postgres":
      return `postgres://${userinfo}@${host}/postgres`;
  }
}
const user = { etcd: "root", dynamodb: "AKIDTIDEMARK", mongodb: "admin", postgres: "tide" };
const valid = (kind: Kind, password = PASSWORD, host?: string) =>
  storeUrl(kind, `${user[kind]}:${enc(password)}`, host);
/** etcd keeps no history: its commands take a local one. */
const historyFlags = (kind: Kind) =>
  kind === "etcd" ? ["--history", `sqlite:${join(dir, `etcd-history-${Date.now()}.db`)}`] : [];

function expectNoSecret(what: string, texts: readonly string[]): void {
  const all = texts.join("\n").toLowerCase();
  for (const giveaway of GIVEAWAYS) {
    expect(all.includes(giveaway.toLowerCase()), `${what} shows "${giveaway}":\n${texts.join("\n")}`).toBe(false);
  }
}

const printed = (result: { stdout: LogLine[]; stderr: string }) => [JSON.stringify(result.stdout), result.stderr];

/** `tidemark run` on the demo network until `ready` says so, with /metrics and /ready read before it is stopped. */
async function runNode(store: string, extra: readonly string[], ready: (cli: Cli) => Promise<unknown>) {
  const cli = new Cli(
    ["run", "--demo", "--store", store, ...extra, "--metrics-port", "0", "--status", "on", "--log-level", "debug"],
    { cwd: dir },
  );
  const bodies: string[] = [];
  let code: number | null;
  try {
    const listening = await cli.waitFor((line) => line.msg === "metrics and health endpoints listening");
    await ready(cli);
    for (const path of ["/metrics", "/ready", "/healthz"]) {
      bodies.push(await (await fetch(`http://127.0.0.1:${listening.port}${path}`)).text());
    }
    expect(bodies[0]).toContain("tidemark_");
  } finally {
    cli.child.kill("SIGTERM");
    code = (await cli.exited).code;
  }
  return { cli, code, texts: [JSON.stringify(cli.lines), cli.stderr.join("\n"), ...bodies] };
}

/** In-process `runCli`, for the many refusals that need no process of their own. */
async function inProcess(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: {},
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

describe("credentials that are not percent-encoded", () => {
  it("are refused by every command for every store kind, with how to encode and without echoing them", async () => {
    const neverOpened = join(dir, "never-opened.db");
    const commands = (store: string) => [
      ["commits", "list", "--store", store],
      ["commits", "status", "--store", store, "--json"],
      ["commits", "get", "kin4", "--store", store],
      ["history", "blocks", "1", "2", "--store", store, "--history", `sqlite:${neverOpened}`],
      ["store", "init", "--store", store],
    ];
    for (const kind of kinds) {
      for (const raw of RAW) {
        for (const args of commands(storeUrl(kind, `${user[kind]}:${raw}`))) {
          const result = await inProcess(args);
          expect(result.code, `${args.join(" ")}: ${result.err.join("\n")}`).toBe(2);
          expect(result.err).toHaveLength(1);
          expect(result.err[0]).toMatch(/^tidemark: --store: .*percent-encode/);
          expectNoSecret(args.join(" "), [...result.out, ...result.err]);
        }
      }
    }
    expect(existsSync(neverOpened), "a refused command opened its history").toBe(false);
  });

  it("the real CLI refuses the issue's two URLs, a raw --history and a raw TIDEMARK_STORE, showing no password", async () => {
    const [etcdIssue, mongoIssue, ...others] = await Promise.all([
      // The issue: the whole URL, password included, was printed in the error.
      runToEnd(["commits", "list", "--store", `etcd://root:Sup3r/S3cret@${at.closed}`], dir),
      // The issue: logged as admin:***@S3cret@…, then "S3cret" was resolved as a host name.
      runToEnd(
        ["run", "--demo", "--store", `mongodb://admin:Sup3r@S3cret@${at.mongodb}/tidemark`, "--status", "on"],
        dir,
      ),
      runToEnd(
        ["history", "blocks", "1", "2", "--store", valid("etcd"), "--history", storeUrl("postgres", `tide:${RAW[1]}`)],
        dir,
      ),
      runToEnd(["run", "--demo", "--status", "on", "--metrics-port", "0"], dir, {
        TIDEMARK_STORE: storeUrl("dynamodb", `${user.dynamodb}:${RAW[4]}`),
      }),
    ]);
    for (const [result, kind] of [
      [etcdIssue, "etcd"],
      [mongoIssue, "mongodb"],
    ] as const) {
      expect(result?.code, result?.stderr).toBe(2);
      expect(result?.stderr).toContain(
        `--store: the user name and password in this URL (${kind}://***@${kind === "etcd" ? at.closed : at.mongodb}…)`,
      );
      expect(result?.stderr).toMatch(/encodeURIComponent, e\.g\. "@" → %40, "\/" → %2F/);
      expect(result?.stderr).not.toMatch(/ENOTFOUND/);
    }
    for (const result of [etcdIssue, mongoIssue, ...others]) {
      expect(result?.code, result?.stderr).toBe(2);
      expect(result?.stderr).toMatch(/percent-encode/);
      expectNoSecret("a raw URL", printed(result as Awaited<ReturnType<typeof runToEnd>>));
    }
  });
});

describe("percent-encoded credentials", () => {
  /** Ingests a few demo blocks with `store`, then reads them back with every read command. */
  async function ingestAndRead(kind: Kind) {
    const store = valid(kind);
    const history = historyFlags(kind);
    const texts: string[] = [];
    if (kind === "dynamodb" || kind === "postgres") {
      const init = await runToEnd(["store", "init", "--store", store], dir);
      expect(init.code, init.stderr).toBe(0);
      texts.push(...printed(init));
    }
    const node = await runNode(store, history, async (cli) => {
      // Demo blocks may be empty: wait for written transactions, then for commits that cover them. The
      // ingestor writes up to 8 blocks ahead of its commits, so a written block is committed 8 commits on.
      await until(`${kind}: transactions written`, () => cli.stderr.some((line) => WRITING.test(line)));
      const seen = cli.lines.filter(committed).length;
      await cli.waitFor((line) => committed(line) && cli.lines.filter(committed).length > seen + FETCHED_AHEAD);
    });
    expect(node.code, `${kind}: ${node.cli.dump()}`).toBe(0);
    expect(node.cli.stderr.join("\n"), `${kind}: the status line`).toMatch(/kin4 (leader|standby) +slot /);
    texts.push(...node.texts);
    const first = node.cli.lines.find(committed)?.block as string;
    const last = node.cli.lines.filter(committed).at(-1)?.block as string;
    const reads = await Promise.all([
      runToEnd(["commits", "list", "--store", store, "--json"], dir),
      runToEnd(["commits", "status", "--store", store, "--json"], dir),
      runToEnd(["commits", "get", "kin4", "--store", store], dir),
      runToEnd(["history", "blocks", first, last, "--store", store, ...history, "--json"], dir),
    ]);
    for (const read of reads) {
      expect(read.code, `${kind}: ${read.stderr}`).toBe(0);
      texts.push(...printed(read));
    }
    expect(reads[0]?.stdout.find((line) => line.chain === "kin4")?.block).toBe(last);
    expect(reads[2]?.stdout[0]?.msg).toContain(`slot ${last}`);
    expect(reads[3]?.stdout.length).toBeGreaterThan(0);
    expectNoSecret(`${kind}: run, commits and history`, texts);
    // The label every line shows: the host, no userinfo.
    expect(texts.join("\n")).toContain(`${kind === "postgres" ? "postgres" : kind}://***@${at[kind]}`);
  }

  /** mongo-java-server cannot authenticate: every command must fail, at the right host, without the password. */
  async function failToAuthenticate() {
    const store = valid("mongodb");
    const results = await Promise.all([
      runToEnd(["commits", "status", "--store", store], dir),
      runToEnd(["history", "blocks", "1", "2", "--store", store], dir),
      runToEnd(["run", "--demo", "--store", store, "--status", "on", "--log-level", "debug"], dir),
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).not.toBe(0);
      // The driver took the decoded credentials to the right host: the server refuses the SASL handshake itself.
      expect(result.stderr).toMatch(/authentication failed at mongodb:\/\/\S*@127\.0\.0\.1:\d+\/tidemark .*saslStart/);
      expect(result.stderr).toContain(at.mongodb);
      expectNoSecret("mongodb with credentials", printed(result));
    }
  }

  // etcd and PostgreSQL check the decoded password for real; DynamoDB Local takes any key pair.
  it("etcd, PostgreSQL and DynamoDB: run, commits list|status|get and history blocks work and show no password; MongoDB fails without it", async () => {
    await Promise.all([
      ingestAndRead("etcd"),
      ingestAndRead("postgres"),
      ingestAndRead("dynamodb"),
      failToAuthenticate(),
    ]);
  });
});

describe("failures print no password", () => {
  it("a wrong password: PostgreSQL and etcd refuse it, and no output shows either password", async () => {
    const results = await Promise.all([
      runToEnd(["commits", "list", "--store", valid("postgres", WRONG)], dir),
      runToEnd(["history", "blocks", "1", "2", "--store", valid("postgres", WRONG)], dir),
      runToEnd(["run", "--demo", "--store", valid("postgres", WRONG), "--status", "on", "--log-level", "debug"], dir),
      runToEnd(["commits", "status", "--store", valid("etcd", WRONG)], dir),
      runToEnd(
        [
          "run",
          "--demo",
          "--store",
          valid("etcd", WRONG),
          ...historyFlags("etcd"),
          "--status",
          "on",
          "--log-level",
          "debug",
        ],
        dir,
      ),
    ]);
    for (const [index, result] of results.entries()) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(
        index < 3
          ? /password authentication failed for user "tide"/
          : /authentication failed, invalid user ID or password/,
      );
      expectNoSecret("a wrong password", printed(result));
    }
  });

  it("an unreachable server: run keeps retrying and commits list gives up, and neither shows the password", async () => {
    const outcomes = await Promise.all(
      kinds.flatMap((kind) => [
        runNode(valid(kind, PASSWORD, at.closed), historyFlags(kind), (cli) =>
          cli.waitFor((line) => line.msg === "lock failed", 30_000),
        ).then((node) => {
          expect(node.code, node.cli.dump()).toBe(0);
          expect(node.texts.slice(2).join("\n"), `${kind}: /ready`).toMatch(/"ready":false/);
          return { kind, texts: node.texts };
        }),
        runToEnd(["commits", "list", "--store", valid(kind, PASSWORD, at.closed)], dir).then((result) => {
          expect(result.code, result.stderr).not.toBe(0);
          expect(result.stderr).toContain(at.closed.split(":")[1]);
          return { kind, texts: printed(result) };
        }),
      ]),
    );
    for (const { kind, texts } of outcomes) expectNoSecret(`${kind} unreachable`, texts);
  });
});

/** A status line reporting transactions written. */
const WRITING = /kin4 leader .* (?:[1-9]\d*\.\d|0\.[1-9]) tx\/s/;
// The Kin4 ingestor's default fetch concurrency: how far its writes may run ahead of its commits.
const FETCHED_AHEAD = 8;

async function until(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
