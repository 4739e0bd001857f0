import { uniqueName } from "@tidemark/conformance";
import { ConfigurationError, CorruptRecordError, InvalidArgumentError, pointerFromNumber } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSchema, createSchema, PostgresCommitter, PostgresLock } from "../src/index.js";
import { openPool, rawLatest, url, urlWith } from "./support/postgres.js";

// Each mistake gives a clear error naming what is wrong, and nothing is written anywhere.
const pool = openPool();
const SECRET = `pw-${Math.random().toString(36).slice(2)}-never-shown`;
const schema = uniqueName("bad_input").replace(/[^A-Za-z0-9_]/g, "_");
beforeAll(async () => {
  await createSchema(pool);
  await pool.query(`CREATE SCHEMA "${schema}"`);
});
afterAll(() => pool.query(`DROP SCHEMA "${schema}" CASCADE`));

/** Every string an error carries, down its cause chain: message, stack and own properties. */
function everything(error: unknown, seen = new Set<unknown>()): string {
  if (error === null || error === undefined || seen.has(error)) return "";
  seen.add(error);
  if (typeof error !== "object") return String(error);
  const own = Object.getOwnPropertyNames(error).map((name) => {
    const value = (error as Record<string, unknown>)[name];
    return typeof value === "object" ? everything(value, seen) : String(value);
  });
  return [String(error), ...own].join("\n");
}

async function failure(attempt: () => Promise<unknown>): Promise<Error> {
  const error = await attempt().then(
    () => new Error("it was accepted"),
    (e: unknown) => e as Error,
  );
  expect(everything(error), "the password shows up in the error").not.toContain(SECRET);
  return error;
}

const lockFor = (options: Partial<ConstructorParameters<typeof PostgresLock>[0]>) =>
  new PostgresLock({ key: uniqueName("bad-lock"), connectionString: url, leaseMs: 1500, ...options });

async function rowsOf(table: string): Promise<number> {
  return Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
}

describe("bad input", () => {
  it("wrong credentials: ConfigurationError that names the server, never the password", async () => {
    const connectionString = urlWith({ password: SECRET });
    const ingestor = uniqueName("wrong-password");
    const committer = new PostgresCommitter({ connectionString });
    const error = await failure(() => committer.commit(ingestor, null, pointerFromNumber(1)));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toMatch(/postgres committer on table "tidemark_commits" \(127\.0\.0\.1:\d+\/postgres\)/);
    expect(error.message).toMatch(/password authentication failed|does not exist/);
    await committer.close();
    const lock = lockFor({ connectionString });
    const lockError = await failure(() => lock.lock(AbortSignal.timeout(10_000)));
    expect(lockError).toBeInstanceOf(ConfigurationError);
    expect(lockError.message).toMatch(/postgres lock "bad-lock-[^"]+" in table "tidemark_locks"/);
    await lock.close();
    expect(await rawLatest(pool, ingestor)).toBeNull();
  });

  it("an unknown user with a password: the same, and the user is named, the password not", async () => {
    const committer = new PostgresCommitter({
      connectionString: urlWith({ user: "tidemark_nobody", password: SECRET }),
    });
    const error = await failure(() => committer.latest("x"));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain("tidemark_nobody");
    await committer.close();
  });

  it("a database that does not exist: ConfigurationError naming it", async () => {
    const connectionString = urlWith({ database: "tidemark_no_such_db" });
    const committer = new PostgresCommitter({ connectionString });
    const error = await failure(() => committer.commit("x", null, pointerFromNumber(1)));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toMatch(/database "tidemark_no_such_db" does not exist/);
    await committer.close();
    const lock = lockFor({ connectionString });
    expect(await failure(() => lock.lock(AbortSignal.timeout(10_000)))).toBeInstanceOf(ConfigurationError);
    await lock.close();
  });

  it("a connection string that is not a URL: InvalidArgumentError that does not echo it", async () => {
    const connectionString = `postgres://user:${SECRET}@[not-a-host/db`;
    expect(() => new PostgresCommitter({ connectionString })).toThrow(InvalidArgumentError);
    expect(everything(await failure(async () => new PostgresCommitter({ connectionString })))).not.toContain(SECRET);
    await failure(async () => lockFor({ connectionString }));
  });

  it("missing tables and sequence: ConfigurationError naming them and how to create them", async () => {
    const committer = new PostgresCommitter({ pool, table: `${schema}.commits` });
    const error = await failure(() => committer.commit("x", null, pointerFromNumber(1)));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(
      `commit table "${schema}.commits" does not exist; create the schema with createSchema()`,
    );
    // A pool given by the application is named by where it connects, without credentials.
    const target = new URL(url);
    expect(error.message).toContain(
      `postgres committer on table "${schema}.commits" (${target.host}${target.pathname}):`,
    );
    const lock = lockFor({ pool, table: `${schema}.locks` });
    expect((await failure(() => lock.lock(AbortSignal.timeout(10_000)))).message).toContain(
      `lock table "${schema}.locks" does not exist`,
    );
    await lock.close();
    const noSequence = lockFor({ pool, tokenSequence: `${schema}.tokens` });
    expect((await failure(() => noSequence.lock(AbortSignal.timeout(10_000)))).message).toContain(
      `token sequence "${schema}.tokens" does not exist`,
    );
    await noSequence.close();
    await expect(checkSchema(pool, { commitsTable: `${schema}.commits` })).rejects.toBeInstanceOf(ConfigurationError);
    expect(await rowsOf("tidemark_locks WHERE key LIKE 'bad-lock-%'")).toBe(0);
  });

  it("a pointer column that is not bytea: ConfigurationError naming table and column, nothing written", async () => {
    const table = `${schema}.text_pointers`;
    await pool.query(`CREATE TABLE ${table} (ingestor text PRIMARY KEY, latest text, fence bigint)`);
    const committer = new PostgresCommitter({ pool, table });
    for (const attempt of [
      () => committer.commit("x", null, pointerFromNumber(1)),
      () => committer.commit("x", pointerFromNumber(1), pointerFromNumber(2)),
      () => committer.reset("x", null, pointerFromNumber(1)),
      () => committer.latest("x"),
    ]) {
      const error = await failure(attempt);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toContain(`column "latest" of commit table "${table}" is text, expected bytea`);
    }
    expect(await rowsOf(table)).toBe(0);
  });

  it("schemas of another shape: a missing column, another type, no primary key", async () => {
    const shapes: [string, string, RegExp][] = [
      ["no_fence", "ingestor text PRIMARY KEY, latest bytea", /has no column "fence" \(bigint\)/],
      [
        "int_fence",
        "ingestor text PRIMARY KEY, latest bytea, fence integer",
        /column "fence" .* is integer, expected bigint/,
      ],
      ["no_key", "ingestor text, latest bytea, fence bigint", /primary key .* is \(none\), expected \(ingestor\)/],
    ];
    for (const [name, columns, message] of shapes) {
      const table = `${schema}.${name}`;
      await pool.query(`CREATE TABLE ${table} (${columns})`);
      const committer = new PostgresCommitter({ pool, table });
      const error = await failure(() => committer.commit("x", null, pointerFromNumber(1)));
      expect(error, name).toBeInstanceOf(ConfigurationError);
      expect(error.message, name).toMatch(message);
      expect(await rowsOf(table), name).toBe(0);
    }
    const locks = `${schema}.text_lease_locks`;
    await pool.query(
      `CREATE TABLE ${locks} (key text PRIMARY KEY, owner text, version text, lease_ms text, token bigint, released boolean, expires_at timestamptz)`,
    );
    const lock = lockFor({ pool, table: locks });
    expect((await failure(() => lock.lock(AbortSignal.timeout(10_000)))).message).toContain(
      `column "lease_ms" of lock table "${locks}" is text, expected integer`,
    );
    await lock.close();
    expect(await rowsOf(locks)).toBe(0);
  });

  it("table names that are not identifiers: InvalidArgumentError before any connection", async () => {
    for (const table of ["commits; DROP TABLE tidemark_locks", 'a"b', "a.b.c", "", "1abc", "x".repeat(64)]) {
      expect(() => new PostgresCommitter({ pool, table }), table).toThrow(InvalidArgumentError);
      expect(() => lockFor({ pool, table }), table).toThrow(InvalidArgumentError);
      expect(() => lockFor({ pool, tokenSequence: table }), table).toThrow(InvalidArgumentError);
      await expect(createSchema(pool, { commitsTable: table })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await rowsOf("tidemark_locks"), "the lock table survived").toBeGreaterThanOrEqual(0);
  });

  it("stored rows of the wrong shape: CorruptRecordError naming them, and they are left as they are", async () => {
    const ingestor = uniqueName("empty-pointer");
    await pool.query("INSERT INTO tidemark_commits (ingestor, latest) VALUES ($1, ''::bytea)", [ingestor]);
    const committer = new PostgresCommitter({ pool });
    for (const attempt of [
      () => committer.latest(ingestor),
      () => committer.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2)),
    ]) {
      const error = await failure(attempt);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error.message).toContain(`"latest" of ingestor "${ingestor}" is not a non-empty bytea`);
    }
    expect((await rawLatest(pool, ingestor))?.length).toBe(0);
    const key = uniqueName("bad-lock-row");
    await pool.query(
      "INSERT INTO tidemark_locks (key, owner, version, lease_ms, token, released, expires_at) VALUES ($1, '', 'v', 1000, 1, false, now())",
      [key],
    );
    const lock = lockFor({ pool, key });
    const error = await failure(() => lock.lock(AbortSignal.timeout(10_000)));
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect(error.message).toContain(`row "${key}" is not a lock row tidemark wrote`);
    await lock.close();
    const { rows } = await pool.query("SELECT owner, version FROM tidemark_locks WHERE key = $1", [key]);
    expect(rows).toEqual([{ owner: "", version: "v" }]);
  });
});
