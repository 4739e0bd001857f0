import { type Interval, overlaps, uniqueName } from "@tidemark/conformance";
import {
  type CommitOptions,
  type Committer,
  type DistributedLock,
  InvalidCommitError,
  isTidemarkError,
  type Lease,
  LockLostError,
  type Pointer,
  pointerFromNumber,
  pointerToBigInt,
  type ReadOptions,
  run,
  SequenceIngestor,
  sleep,
} from "@tidemark/core";
import type pg from "pg";
import { expect } from "vitest";
import { createSchema, PostgresCommitter, PostgresLock, type PostgresLockOptions } from "../../src/index.js";

/**
 * A schema of its own for one fault test: the commit and lock tables, the
 * token sequence, and an audit trigger that records every write of the commit
 * table together with the lock row as it was at that moment, in the same
 * transaction. The audit is the server's own account of what was applied.
 */
export interface FaultSchema {
  readonly schema: string;
  readonly commitsTable: string;
  readonly locksTable: string;
  readonly tokenSequence: string;
  /** Registers which lock key fences `ingestor`, for the audit. */
  watch(ingestor: string, key: string): Promise<void>;
  audit(ingestor: string): Promise<AuditRow[]>;
  drop(): Promise<void>;
}

export interface AuditRow {
  readonly parent: bigint | null;
  readonly block: bigint;
  readonly fence: bigint | null;
  /** The lock row's token when the write was applied, and whether it was unreleased and unexpired. */
  readonly holderToken: bigint | null;
  readonly holderLive: boolean;
}

export async function createFaultSchema(pool: pg.Pool, prefix: string): Promise<FaultSchema> {
  const schema = uniqueName(prefix)
    .replace(/[^A-Za-z0-9_]/g, "_")
    .slice(0, 60);
  const names = {
    commitsTable: `${schema}.commits`,
    locksTable: `${schema}.locks`,
    tokenSequence: `${schema}.tokens`,
  };
  await pool.query(`CREATE SCHEMA "${schema}"`);
  await createSchema(pool, names);
  await pool.query(`
    CREATE TABLE "${schema}".watched (ingestor text PRIMARY KEY, key text NOT NULL);
    CREATE TABLE "${schema}".audit (
      id bigserial PRIMARY KEY, ingestor text, parent bytea, block bytea, fence bigint,
      holder_token bigint, holder_live boolean);
    CREATE FUNCTION "${schema}".audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO "${schema}".audit (ingestor, parent, block, fence, holder_token, holder_live)
      SELECT NEW.ingestor, CASE WHEN TG_OP = 'UPDATE' THEN OLD.latest END, NEW.latest, NEW.fence,
             l.token, COALESCE(NOT l.released AND l.expires_at > now(), false)
      FROM (SELECT 1) AS one
      LEFT JOIN "${schema}".watched w ON w.ingestor = NEW.ingestor
      LEFT JOIN "${schema}".locks l ON l.key = w.key;
      RETURN NEW;
    END $$;
    CREATE TRIGGER audit AFTER INSERT OR UPDATE ON "${schema}".commits
      FOR EACH ROW EXECUTE FUNCTION "${schema}".audit();`);
  const big = (value: unknown) => (value === null ? null : BigInt(value as string));
  return {
    schema,
    ...names,
    watch: async (ingestor, key) => {
      await pool.query(`INSERT INTO "${schema}".watched VALUES ($1, $2)`, [ingestor, key]);
    },
    audit: async (ingestor) => {
      const { rows } = await pool.query(
        `SELECT parent, block, fence, holder_token, holder_live FROM "${schema}".audit WHERE ingestor = $1 ORDER BY id`,
        [ingestor],
      );
      return rows.map((row) => ({
        parent: row.parent === null ? null : pointerToBigInt(row.parent),
        block: pointerToBigInt(row.block),
        fence: big(row.fence),
        holderToken: big(row.holder_token),
        holderLive: row.holder_live,
      }));
    },
    drop: async () => {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    },
  };
}

/** One commit call as its caller saw it. */
export interface CommitAttempt {
  readonly block: bigint;
  readonly token: bigint | null;
  /** The lease was already lost when the call started. */
  readonly leaseLostBefore: boolean;
  readonly outcome: "acknowledged" | "refused" | "unknown";
  readonly error?: string;
  /** It was held by `gate` before being sent. */
  readonly gated: boolean;
}

/** Logs every commit with its outcome; `gate`, when set, holds a commit before it is sent (a paused process). */
export class RecordingCommitter implements Committer {
  readonly attempts: CommitAttempt[] = [];
  gate: Promise<void> | null = null;
  constructor(readonly inner: Committer) {}

  async commit(ingestor: string, parent: Pointer | null, block: Pointer, options?: CommitOptions): Promise<void> {
    const lease = options?.lease;
    const record = (outcome: CommitAttempt["outcome"], error?: unknown) =>
      this.attempts.push({
        block: pointerToBigInt(block),
        token: lease?.token ?? null,
        leaseLostBefore,
        outcome,
        gated: gate !== null,
        ...(error === undefined ? {} : { error: String(error) }),
      });
    const gate = this.gate;
    if (gate !== null) await gate;
    const leaseLostBefore = lease?.signal.aborted ?? false;
    try {
      // The lease stays, the signal goes: a paused process does not see its lease abort either.
      await this.inner.commit(ingestor, parent, block, gate === null ? options : { ...(lease ? { lease } : {}) });
      record("acknowledged");
    } catch (error) {
      const refused = isTidemarkError(error, InvalidCommitError) || isTidemarkError(error, LockLostError);
      record(refused && !options?.signal?.aborted ? "refused" : "unknown", error);
      throw error;
    }
  }

  latest(ingestor: string, options?: ReadOptions): Promise<Pointer | null> {
    return this.inner.latest(ingestor, options);
  }

  reset(ingestor: string, expected: Pointer | null, block: Pointer, options?: ReadOptions): Promise<void> {
    return this.inner.reset(ingestor, expected, block, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Records each holding as an interval: from `lock()` resolving until its lease aborted or it was unlocked. */
export class RecordingLock implements DistributedLock {
  readonly intervals: Interval[] = [];
  #open: { lease: Lease; start: number; closed: boolean } | null = null;
  constructor(
    readonly inner: PostgresLock,
    readonly holder: string,
  ) {}

  get lease(): Lease | null {
    return this.#open !== null && !this.#open.closed ? this.#open.lease : null;
  }

  async lock(signal: AbortSignal): Promise<Lease> {
    const lease = await this.inner.lock(signal);
    if (this.#open?.lease !== lease) {
      const open = { lease, start: performance.now(), closed: false };
      this.#open = open;
      if (lease.signal.aborted) this.#end(open);
      else lease.signal.addEventListener("abort", () => this.#end(open), { once: true });
    }
    return lease;
  }

  async unlock(): Promise<void> {
    if (this.#open) this.#end(this.#open);
    await this.inner.unlock();
  }

  /**
   * Pauses the holder (`simulateCrash`). Its holding ends here as far as the
   * fleet is concerned: what it does after waking is for the fence to refuse.
   */
  freeze(): void {
    this.inner.simulateCrash();
    if (this.#open) this.#end(this.#open);
  }

  async close(): Promise<void> {
    if (this.#open) this.#end(this.#open);
    await this.inner.close();
  }

  #end(open: { start: number; closed: boolean }): void {
    if (open.closed) return;
    open.closed = true;
    this.intervals.push({ holder: this.holder, start: open.start, end: performance.now() });
  }
}

export interface Runner {
  readonly name: string;
  readonly lock: RecordingLock;
  readonly committer: RecordingCommitter;
  readonly done: Promise<void>;
  failure?: unknown;
}

export interface FleetOptions {
  readonly url: string;
  readonly schema: FaultSchema;
  readonly blocks: number;
  readonly signal: AbortSignal;
  readonly lock?: Partial<PostgresLockOptions>;
  readonly committerTimeoutMs?: number;
}

/**
 * Two nodes running core's `run` over one chain, each with its own pools
 * (`application_name` = its name, so a test can find its backends), lock and
 * committer. Coalescing is off: every commit covers one block.
 */
export async function startFleet(options: FleetOptions): Promise<{ ingestor: string; key: string; runners: Runner[] }> {
  const { schema } = options;
  const ingestor = uniqueName("fleet");
  const key = uniqueName("fleet-lock");
  await schema.watch(ingestor, key);
  const runners = ["runner-a", "runner-b"].map((name) => {
    const url = new URL(options.url);
    url.searchParams.set("application_name", name);
    const connectionString = url.toString();
    const lock = new RecordingLock(
      new PostgresLock({
        connectionString,
        key,
        table: schema.locksTable,
        tokenSequence: schema.tokenSequence,
        leaseMs: 3000,
        heartbeatMs: 500,
        safetyMarginMs: 1000,
        pollMs: 100,
        ...options.lock,
      }),
      name,
    );
    const committer = new RecordingCommitter(
      new PostgresCommitter({
        connectionString,
        table: schema.commitsTable,
        requestTimeoutMs: options.committerTimeoutMs ?? 2000,
      }),
    );
    const runner: Runner = {
      name,
      lock,
      committer,
      done: run({
        signal: options.signal,
        lock,
        committer,
        ingestor: new SequenceIngestor({ name: ingestor, delayMs: 2, concurrency: 4 }),
        writer: { write: async () => {} },
        until: pointerFromNumber(options.blocks),
        coalesce: false,
        lockRetryMs: 200,
        restartInitialMs: 50,
        restartMaxMs: 500,
      }).finally(async () => {
        await lock.close();
        await committer.close();
      }),
    };
    runner.done.catch((error: unknown) => {
      runner.failure = error ?? new Error("run rejected");
    });
    return runner;
  });
  return { ingestor, key, runners };
}

/** The highest block any runner saw acknowledged. */
export function acknowledged(runners: readonly Runner[]): bigint {
  let max = 0n;
  for (const runner of runners) {
    for (const attempt of runner.committer.attempts) {
      if (attempt.outcome === "acknowledged" && attempt.block > max) max = attempt.block;
    }
  }
  return max;
}

export async function waitForBlock(runners: readonly Runner[], block: bigint, signal: AbortSignal): Promise<void> {
  while (acknowledged(runners) < block) {
    const failed = runners.find((runner) => runner.failure !== undefined);
    if (failed) throw new Error(`${failed.name}: run gave up: ${String(failed.failure)}`, { cause: failed.failure });
    await sleep(20, signal);
  }
}

/**
 * After a run: the server's audit shows one write per block, 1..blocks in order
 * (no gap, no duplicate), each applied while its lease was the live holding of
 * the lock row; every acknowledged commit is among them; no commit started
 * with a lost lease was acknowledged; holdings never overlapped.
 */
export async function expectCleanChain(
  schema: FaultSchema,
  ingestor: string,
  runners: readonly Runner[],
  blocks: number,
): Promise<AuditRow[]> {
  const audit = await schema.audit(ingestor);
  const chain = audit.map((row) => `${row.parent ?? "null"}->${row.block}`);
  const expected = Array.from({ length: blocks }, (_, i) => `${i === 0 ? "null" : i}->${i + 1}`);
  expect(chain, "writes applied, in order").toEqual(expected);
  const unfenced = audit.filter((row) => row.fence === null || row.fence !== row.holderToken || !row.holderLive);
  expect(unfenced, "writes applied while their lease was not the live holding").toEqual([]);
  const attempts = runners.flatMap((runner) => runner.committer.attempts);
  const appliedBy = new Map(audit.map((row) => [row.block, row.fence]));
  const lost = attempts.filter((a) => a.outcome === "acknowledged" && appliedBy.get(a.block) !== a.token);
  expect(lost, "acknowledged commits the server did not apply under their token").toEqual([]);
  const late = attempts.filter((a) => a.outcome === "acknowledged" && a.leaseLostBefore);
  expect(late, "commits acknowledged although their lease was lost before they started").toEqual([]);
  const intervals = runners.flatMap((runner) => runner.lock.intervals);
  expect(overlaps(intervals), "overlapping holdings").toEqual([]);
  return audit;
}
