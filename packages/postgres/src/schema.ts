import { ConfigurationError } from "@tidemark/core";
import type pg from "pg";
import { mapPgError } from "./errors.js";
import { quoteTable } from "./identifiers.js";
import { queryWithin, statement } from "./query.js";
import { type ExpectedTable, shapeProblem, TABLE_SHAPE_SQL, type TableShape } from "./table-shape.js";

/** Catalog reads get this long before the server counts as unavailable. */
const CHECK_TIMEOUT_MS = 10_000;

const SEQUENCE_KIND = statement("SELECT relkind FROM pg_class WHERE oid = to_regclass($1::text)");
const TABLE_SHAPE = statement(TABLE_SHAPE_SQL);

export const DEFAULT_COMMITS_TABLE = "tidemark_commits";
export const DEFAULT_LOCKS_TABLE = "tidemark_locks";
export const DEFAULT_TOKEN_SEQUENCE = "tidemark_lock_tokens";

/** Where the committer and the lock keep their rows; names are validated as identifiers and quoted. */
export interface SchemaNames {
  /** Commit pointers, one row per ingestor (default `tidemark_commits`). */
  readonly commitsTable?: string;
  /** Lock rows, one per key (default `tidemark_locks`). */
  readonly locksTable?: string;
  /** Fencing tokens, one `nextval` per acquisition (default `tidemark_lock_tokens`). */
  readonly tokenSequence?: string;
}

// bytea compares as unsigned bytes, a shorter prefix first: exactly tidemark's pointer order,
// so `latest < $block` in SQL is the committer's advance check.
const COMMITS: ExpectedTable = {
  what: "commit table",
  columns: { ingestor: "text", latest: "bytea", fence: "bigint" },
  primaryKey: ["ingestor"],
};
const LOCKS: ExpectedTable = {
  what: "lock table",
  columns: {
    key: "text",
    owner: "text",
    version: "text",
    lease_ms: "integer",
    token: "bigint",
    released: "boolean",
    expires_at: "timestamp with time zone",
  },
  primaryKey: ["key"],
};

/** The commit table, lock table and token sequence as plain SQL, for a DBA's migration (what `createSchema` runs). */
export function schemaSql(names: SchemaNames = {}): string {
  const commits = quoteTable(names.commitsTable ?? DEFAULT_COMMITS_TABLE, "commitsTable");
  const locks = quoteTable(names.locksTable ?? DEFAULT_LOCKS_TABLE, "locksTable");
  const tokens = quoteTable(names.tokenSequence ?? DEFAULT_TOKEN_SEQUENCE, "tokenSequence");
  // COLLATE "C": names are only compared for equality, bytewise, whatever the database's locale.
  return `CREATE TABLE IF NOT EXISTS ${commits} (
  ingestor text COLLATE "C" PRIMARY KEY,
  latest bytea,
  fence bigint
);
CREATE TABLE IF NOT EXISTS ${locks} (
  key text COLLATE "C" PRIMARY KEY,
  owner text NOT NULL,
  version text NOT NULL,
  lease_ms integer NOT NULL,
  token bigint NOT NULL,
  released boolean NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS ${tokens};`;
}

/**
 * Creates the commit table, the lock table and the token sequence unless they
 * exist, then checks what exists. Idempotent and safe from several processes
 * at once: one implicit transaction serialised by an advisory lock, since
 * concurrent `CREATE TABLE IF NOT EXISTS` can fail on the catalog's unique index.
 */
export async function createSchema(pool: pg.Pool, names: SchemaNames = {}): Promise<void> {
  const sql = schemaSql(names);
  try {
    // No parameters: the simple protocol runs all statements in one implicit transaction.
    await pool.query(`SELECT pg_advisory_xact_lock(hashtext('tidemark schema'));\n${sql}`);
  } catch (error) {
    throw mapPgError(error, "postgres createSchema");
  }
  await checkSchema(pool, names);
}

/**
 * Checks that the tables exist with the columns, types and primary keys
 * tidemark uses, and that the sequence exists: `ConfigurationError` naming the
 * table and the column otherwise. Reads the catalog only.
 */
export async function checkSchema(pool: pg.Pool, names: SchemaNames = {}): Promise<void> {
  await checkCommitsTable(pool, names.commitsTable ?? DEFAULT_COMMITS_TABLE);
  await checkLocksTable(pool, names.locksTable ?? DEFAULT_LOCKS_TABLE);
  await checkSequence(pool, names.tokenSequence ?? DEFAULT_TOKEN_SEQUENCE);
}

/** `subject` names who asks in errors, e.g. `postgres committer on table "t" (host:port/db)`. */
export function checkCommitsTable(pool: pg.Pool, name: string, subject = "postgres"): Promise<void> {
  return checkTable(pool, name, COMMITS, subject);
}

export function checkLocksTable(pool: pg.Pool, name: string, subject = "postgres"): Promise<void> {
  return checkTable(pool, name, LOCKS, subject);
}

export async function checkSequence(pool: pg.Pool, name: string, subject = "postgres"): Promise<void> {
  const quoted = quoteTable(name, "tokenSequence");
  const what = `${subject} checking token sequence "${name}"`;
  const result = await queryWithin<{ relkind: string }>(
    pool,
    what,
    SEQUENCE_KIND,
    [quoted],
    CHECK_TIMEOUT_MS,
    undefined,
  );
  const kind = result.rows[0]?.relkind;
  if (kind === undefined) throw wrongSchema(subject, `token sequence "${name}" does not exist`);
  if (kind !== "S") throw wrongSchema(subject, `"${name}" is not a sequence (pg_class.relkind ${kind})`);
}

async function checkTable(pool: pg.Pool, name: string, expected: ExpectedTable, subject: string): Promise<void> {
  const quoted = quoteTable(name, expected.what);
  const what = `${subject} checking ${expected.what} "${name}"`;
  const result = await queryWithin<TableShape>(pool, what, TABLE_SHAPE, [quoted], CHECK_TIMEOUT_MS, undefined);
  const found = result.rows[0];
  if (found === undefined) throw wrongSchema(subject, `${expected.what} "${name}" does not exist`);
  const problem = shapeProblem(name, found, expected);
  if (problem !== null) throw wrongSchema(subject, problem);
}

function wrongSchema(subject: string, what: string): ConfigurationError {
  return new ConfigurationError(
    `${subject}: ${what}; create the schema with createSchema() or the SQL in the @tidemark/postgres README`,
  );
}
