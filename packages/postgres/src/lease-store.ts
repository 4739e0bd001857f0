import { randomUUID } from "node:crypto";
import { CorruptRecordError, type LeaseClaim, type LeaseRecord, type LeaseRecordStore } from "@tidemark/core";
import type pg from "pg";
import { quoteTable } from "./identifiers.js";
import { untilSucceeded } from "./once.js";
import { query, type Statement, statement } from "./query.js";
import { checkLocksTable, checkSequence } from "./schema.js";

interface LockRow {
  owner: unknown;
  version: unknown;
  lease_ms: unknown;
  token: unknown;
  released: unknown;
}

const LEASE = "$4::integer * interval '1 millisecond'";

/**
 * The lease engine's four operations on one lock row (`key` = the lock's
 * key), each a single conditional statement. Tokens come from a sequence in
 * the acquiring statement itself. `expires_at` is computed by the database's
 * clock for operators; no statement compares it with a client's clock, and
 * takeover is decided by the engine on its monotonic clock (`version` unchanged
 * for the lease), which the claim's condition re-checks.
 */
export class PostgresLeaseStore implements LeaseRecordStore {
  readonly label: string;
  readonly #key: string;
  readonly #table: string;
  readonly #pool: pg.Pool;
  readonly #closePool: (() => Promise<void>) | null;
  readonly #checked: () => Promise<void>;
  readonly #read: Statement;
  readonly #insert: Statement;
  readonly #takeOver: Statement;
  readonly #renew: Statement;
  readonly #release: Statement;

  constructor(
    key: string,
    names: { table: string; tokenSequence: string },
    connection: { pool: pg.Pool; owned: boolean; label: string },
  ) {
    const table = quoteTable(names.table, "lock table");
    const tokens = quoteTable(names.tokenSequence, "tokenSequence");
    this.label = `postgres lock "${key}" in table "${names.table}" (${connection.label})`;
    this.#key = key;
    this.#table = names.table;
    this.#pool = connection.pool;
    this.#closePool = connection.owned ? () => connection.pool.end() : null;
    this.#checked = untilSucceeded(async () => {
      await checkLocksTable(connection.pool, names.table, this.label);
      await checkSequence(connection.pool, names.tokenSequence, this.label);
    });
    // The sequence name is a validated, quoted identifier inside a regclass literal: no value is spliced in.
    const nextToken = `nextval('${tokens}')`;
    this.#read = statement(`SELECT owner, version, lease_ms, token, released FROM ${table} WHERE key = $1::text`);
    this.#insert = statement(`INSERT INTO ${table} (key, owner, version, lease_ms, token, released, expires_at)
      VALUES ($1::text, $2::text, $3::text, $4::integer, ${nextToken}, false, now() + ${LEASE})
      ON CONFLICT (key) DO NOTHING RETURNING token`);
    // Released, or exactly the version the engine timed: a renewal or another takeover since changed it.
    this.#takeOver = statement(`UPDATE ${table}
      SET owner = $2::text, version = $3::text, lease_ms = $4::integer, token = ${nextToken}, released = false,
          expires_at = now() + ${LEASE}
      WHERE key = $1::text AND (released OR version = $5::text) RETURNING token`);
    this.#renew =
      statement(`UPDATE ${table} SET version = $4::text, expires_at = now() + lease_ms * interval '1 millisecond'
      WHERE key = $1::text AND owner = $2::text AND version = $3::text AND NOT released`);
    this.#release = statement(`UPDATE ${table} SET released = true, version = $3::text, expires_at = now()
      WHERE key = $1::text AND owner = $2::text AND NOT released`);
  }

  async read(signal: AbortSignal): Promise<LeaseRecord | null> {
    const result = await this.#run<LockRow>("reading", this.#read, [this.#key], signal);
    const row = result.rows[0];
    return row === undefined ? null : this.#decode(row);
  }

  async claim(
    previous: LeaseRecord | null,
    claim: LeaseClaim,
    signal: AbortSignal,
  ): Promise<{ token: bigint } | false> {
    const values: unknown[] = [this.#key, claim.owner, claim.version, Math.round(claim.leaseMs)];
    const result =
      previous === null
        ? await this.#run<{ token: string }>("acquiring", this.#insert, values, signal)
        : await this.#run<{ token: string }>("taking over", this.#takeOver, [...values, previous.version], signal);
    const row = result.rows[0];
    return row === undefined ? false : { token: BigInt(row.token) };
  }

  async renew(owner: string, version: string, next: string, signal: AbortSignal): Promise<boolean> {
    const result = await this.#run("renewing", this.#renew, [this.#key, owner, version, next], signal);
    return result.rowCount === 1;
  }

  async release(owner: string, signal: AbortSignal): Promise<void> {
    await this.#run("releasing", this.#release, [this.#key, owner, randomUUID()], signal);
  }

  async close(): Promise<void> {
    await this.#closePool?.();
  }

  async #run<R extends pg.QueryResultRow>(
    what: string,
    sql: Statement,
    values: readonly unknown[],
    signal: AbortSignal,
  ): Promise<pg.QueryResult<R>> {
    // Once per lock: a table of another shape is reported before anything is written to it.
    await this.#checked();
    return query<R>(this.#pool, `${what} ${this.label}`, sql, values, signal);
  }

  #decode(row: LockRow): LeaseRecord {
    const { owner, version, lease_ms: leaseMs, token, released } = row;
    if (
      typeof owner !== "string" ||
      owner.length === 0 ||
      typeof version !== "string" ||
      typeof leaseMs !== "number" ||
      leaseMs <= 0 ||
      typeof token !== "string" ||
      typeof released !== "boolean"
    ) {
      throw new CorruptRecordError(
        `postgres lock table "${this.#table}": row "${this.#key}" is not a lock row tidemark wrote ` +
          `(owner ${JSON.stringify(owner)}, lease_ms ${JSON.stringify(leaseMs)})`,
      );
    }
    return { owner, version, leaseMs, token: BigInt(token), released };
  }
}
