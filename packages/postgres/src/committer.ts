import {
  assertIngestorName,
  BackendUnavailableError,
  type CommitOptions,
  type Committer,
  CorruptRecordError,
  InvalidArgumentError,
  InvalidCommitError,
  isTidemarkError,
  type Lease,
  LockLostError,
  type Pointer,
  parentMismatch,
  pointersEqual,
  pointerToHex,
  type ReadOptions,
  validateCommit,
  validateReset,
} from "@tidemark/core";
import { type Connection, connect, type PostgresConnectionOptions } from "./connection.js";
import { quoteTable } from "./identifiers.js";
import type { PostgresLease } from "./lock.js";
import { untilSucceeded } from "./once.js";
import { queryWithin, type Statement } from "./query.js";
import { checkCommitsTable, checkLocksTable, DEFAULT_COMMITS_TABLE } from "./schema.js";
import { commitStatements, type FenceStatements, fenceStatements } from "./statements.js";

export interface PostgresCommitterOptions extends PostgresConnectionOptions {
  /** The commit table, one row per ingestor (default `tidemark_commits`); create it with `createSchema`. */
  readonly table?: string;
  /**
   * Longest wait for one statement before its outcome counts as unknown and is
   * settled by reading the row back (default 10 000 ms).
   */
  readonly requestTimeoutMs?: number;
}

/** A fenced commit's lease, checked: the lock row it must still be the current holding of. */
interface Fence {
  readonly lease: PostgresLease;
  readonly statements: FenceStatements;
}

interface Stored {
  readonly latest: Pointer | null;
  readonly fence: bigint | null;
  /** For a fenced commit: whether the lease is still the current holding of its lock row, or how it is not. */
  readonly holding?: "held" | "superseded" | "released" | "expired" | "absent";
}

const MAX_ATTEMPTS = 3;

/**
 * A Committer on PostgreSQL: one row per ingestor, `latest` a `bytea` (which
 * PostgreSQL orders exactly as tidemark orders pointers). Every commit is one
 * statement: an insert of the first pointer, or an update guarded by
 * `latest = $parent AND latest < $block`. A commit given a lease from
 * {@link PostgresLock} applies only if, in that same statement, the lease is
 * still the current holding of its lock row (share-locked, so a takeover
 * cannot slip in between).
 */
export class PostgresCommitter implements Committer {
  readonly table: string;
  readonly #connection: Connection;
  readonly #subject: string;
  readonly #timeoutMs: number;
  readonly #statements: ReturnType<typeof commitStatements>;
  readonly #fences = new Map<string, { statements: FenceStatements; checked: () => Promise<void> }>();
  readonly #checked: () => Promise<void>;
  #closing: Promise<void> | null = null;

  constructor(options: PostgresCommitterOptions) {
    this.table = options?.table ?? DEFAULT_COMMITS_TABLE;
    const quoted = quoteTable(this.table, "commit table");
    const timeoutMs = options?.requestTimeoutMs ?? 10_000;
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidArgumentError(
        `postgres committer: requestTimeoutMs must be a positive number of milliseconds, got ${JSON.stringify(timeoutMs)}`,
      );
    }
    this.#timeoutMs = timeoutMs;
    this.#connection = connect(options, "committer");
    this.#subject = `postgres committer on table "${this.table}" (${this.#connection.label})`;
    this.#statements = commitStatements(quoted);
    const { pool } = this.#connection;
    this.#checked = untilSucceeded(() => checkCommitsTable(pool, this.table, this.#subject));
  }

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options: CommitOptions = {}): Promise<void> {
    this.#checkOpen("commit");
    validateCommit(ingestor, parent, block);
    const { signal, lease } = options;
    signal?.throwIfAborted();
    const fence = lease === undefined ? null : await this.#fence(ingestor, lease);
    await this.#checked();
    let insert = parent === null;
    for (let attempt = 1; ; attempt++) {
      if (fence?.lease.signal.aborted)
        throw this.#lost(ingestor, fence, "its lease was lost before the commit was sent");
      let unknown: Error | null = null;
      try {
        if (await this.#write(ingestor, parent, block, insert, fence, signal)) return;
      } catch (error) {
        if (!isTidemarkError(error, BackendUnavailableError)) throw error;
        unknown = error;
      }
      let stored: Stored;
      try {
        stored = await this.#readBack(ingestor, fence, signal);
      } catch (error) {
        throw unknown ?? error;
      }
      // The answer was lost: the row tells. Under a fence, only this lease's holding writes its token.
      if (unknown !== null && stored.latest !== null && pointersEqual(stored.latest, block)) {
        if (fence === null || stored.fence === fence.lease.token) return;
      }
      if (fence !== null && stored.holding !== "held") {
        throw this.#lost(ingestor, fence, `its lease is ${stored.holding} in lock table "${fence.lease.lockTable}"`);
      }
      if (fence !== null && stored.fence !== null && stored.fence > fence.lease.token) {
        throw this.#lost(ingestor, fence, `a holding with token ${stored.fence} has committed since`);
      }
      // The first commit (nothing stored) is accepted whatever its parent; later ones need the stored parent.
      if (stored.latest !== null && !pointersEqual(stored.latest, parent)) {
        throw parentMismatch(ingestor, parent, stored.latest);
      }
      if (attempt >= MAX_ATTEMPTS) {
        if (unknown !== null) {
          throw new BackendUnavailableError(
            `${unknown.message}; read back, the commit row did not hold the block, so it was not applied`,
            { cause: unknown },
          );
        }
        throw new InvalidCommitError(
          `${this.#subject}: commit for "${ingestor}" rejected: the row changed concurrently`,
        );
      }
      // Not applied, and nothing forbids it: nothing stored yet (insert it), or the write was lost on the way.
      insert = stored.latest === null;
    }
  }

  async latest(ingestor: string, options: ReadOptions = {}): Promise<Pointer | null> {
    this.#checkOpen("latest");
    assertIngestorName(ingestor);
    options.signal?.throwIfAborted();
    await this.#checked();
    return (await this.#readBack(ingestor, null, options.signal)).latest;
  }

  async reset(ingestor: string, expected: Pointer | null, block: Pointer, options: ReadOptions = {}): Promise<void> {
    this.#checkOpen("reset");
    validateReset(ingestor, expected, block);
    const { signal } = options;
    signal?.throwIfAborted();
    await this.#checked();
    const { insert, reset } = this.#statements;
    const result =
      expected === null
        ? await this.#run("reset", insert, [ingestor, bytes(block)], signal)
        : await this.#run("reset", reset, [ingestor, bytes(expected), bytes(block)], signal);
    if (result.rowCount === 1) return;
    const stored = (await this.#readBack(ingestor, null, signal)).latest;
    throw new InvalidCommitError(
      `${this.#subject}: reset of "${ingestor}" rejected: expected ${pointerToHex(expected)}, stored ${pointerToHex(stored)}`,
    );
  }

  /** Ends the pool if this committer opened it (never one you passed). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#connection.owned ? this.#connection.pool.end() : Promise.resolve();
    return this.#closing;
  }

  /** One statement; true when it changed the row. */
  async #write(
    ingestor: string,
    parent: Pointer | null,
    block: Pointer,
    insert: boolean,
    fence: Fence | null,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    let sql: Statement;
    let values: unknown[];
    if (fence === null) {
      sql = insert ? this.#statements.insert : this.#statements.update;
      values = insert ? [ingestor, bytes(block)] : [ingestor, bytes(parent as Pointer), bytes(block)];
    } else {
      const { lease, statements } = fence;
      const holding = [String(lease.token), lease.key, lease.owner];
      sql = insert ? statements.insert : statements.update;
      values = insert
        ? [ingestor, bytes(block), ...holding]
        : [ingestor, bytes(parent as Pointer), bytes(block), ...holding];
    }
    const result = await this.#run(`commit for "${ingestor}"`, sql, values, signal);
    return result.rowCount === 1;
  }

  async #readBack(ingestor: string, fence: Fence | null, signal: AbortSignal | undefined): Promise<Stored> {
    const result =
      fence === null
        ? await this.#run(`reading "${ingestor}"`, this.#statements.read, [ingestor], signal)
        : await this.#run(
            `reading "${ingestor}"`,
            fence.statements.read,
            [ingestor, String(fence.lease.token), fence.lease.key, fence.lease.owner],
            signal,
          );
    const row = result.rows[0] as { latest: unknown; fence: unknown; holding?: unknown } | undefined;
    const latest = row?.latest ?? null;
    if (latest !== null && (!(latest instanceof Uint8Array) || latest.length === 0)) {
      throw new CorruptRecordError(`${this.#subject}: "latest" of ingestor "${ingestor}" is not a non-empty bytea`);
    }
    const storedFence = row?.fence ?? null;
    return {
      latest: latest === null ? null : new Uint8Array(latest),
      fence: storedFence === null ? null : BigInt(storedFence as string),
      ...(fence === null ? {} : { holding: (row?.holding ?? "absent") as Stored["holding"] }),
    };
  }

  /** The lease as a fence: only a {@link PostgresLease} names the lock row a commit can check. */
  async #fence(ingestor: string, lease: Lease): Promise<Fence> {
    const candidate = lease as Partial<PostgresLease>;
    if (
      typeof candidate.lockTable !== "string" ||
      typeof candidate.key !== "string" ||
      typeof candidate.owner !== "string" ||
      typeof candidate.token !== "bigint"
    ) {
      throw new InvalidArgumentError(
        `${this.#subject}: commit for "${ingestor}" was given a lease that is not from a PostgresLock: ` +
          "a fenced commit checks the lease's lock row, so it needs the lock table, key, owner and token",
      );
    }
    const postgresLease = candidate as PostgresLease;
    let found = this.#fences.get(postgresLease.lockTable);
    if (found === undefined) {
      const { pool } = this.#connection;
      const table = postgresLease.lockTable;
      found = {
        statements: fenceStatements(this.#statements.table, quoteTable(table, "lease lockTable")),
        checked: untilSucceeded(() => checkLocksTable(pool, table, this.#subject)),
      };
      this.#fences.set(table, found);
    }
    const fence = { lease: postgresLease, statements: found.statements };
    if (lease.signal.aborted) throw this.#lost(ingestor, fence, "its lease was already lost");
    await found.checked();
    return fence;
  }

  #run(what: string, sql: Statement, values: readonly unknown[], signal: AbortSignal | undefined) {
    return queryWithin(this.#connection.pool, `${what}: ${this.#subject}`, sql, values, this.#timeoutMs, signal);
  }

  #lost(ingestor: string, fence: Fence, why: string): LockLostError {
    return new LockLostError(
      `${this.#subject}: commit for "${ingestor}" refused: ${why} (lock "${fence.lease.key}", token ${fence.lease.token})`,
    );
  }

  #checkOpen(call: string): void {
    if (this.#closing !== null) throw new InvalidArgumentError(`${this.#subject}: ${call}() after close()`);
  }
}

function bytes(pointer: Pointer): Buffer {
  return Buffer.from(pointer.buffer, pointer.byteOffset, pointer.byteLength);
}
