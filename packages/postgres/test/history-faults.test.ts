// Faults of a real server under the history store: a backend terminated mid-statement and
// mid-transaction, an answer lost after the server applied a batch, an unreachable server, and a
// server restart between the history write and the commit. After each, nothing is half-visible and
// writing again completes.
import { type KitEntry, kitCodec, uniqueName } from "@tidemark/conformance";
import { BackendUnavailableError, isTidemarkError, pointerFromNumber, sleep } from "@tidemark/core";
import { startPostgres, TcpFaultProxy } from "@tidemark/test-servers";
import type pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { PostgresHistoryStore } from "../src/index.js";
import {
  COMMITS,
  commitPointer,
  createCommitTable,
  eventually,
  idOf,
  ids,
  kitEntry,
  openPool,
  outcome,
  retrying,
  storedRows,
  url,
  urlNamed,
} from "./history-support.js";

const pool = openPool();
beforeAll(() => createCommitTable(pool));
afterAll(() => pool.end());
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function open(connectionString: string) {
  const ingestor = uniqueName("faults");
  const store = new PostgresHistoryStore({ connectionString, codec: kitCodec, ingestor, commitTable: COMMITS });
  cleanups.push(() => store.close());
  return { store, ingestor, commit: (block: number) => commitPointer(pool, ingestor, pointerFromNumber(block)) };
}

const isUnavailable = (result: { value: unknown } | { error: unknown }) =>
  "error" in result && isTidemarkError(result.error, BackendUnavailableError);

/** A connection of the test's own, holding row locks in an open transaction until it rolls back. */
async function blocker(): Promise<pg.PoolClient> {
  const client = await pool.connect();
  await client.query("BEGIN");
  cleanups.push(async () => {
    await client.query("ROLLBACK").catch(() => {});
    client.release();
  });
  return client;
}

/** The backend of `application` once it waits for a row lock; then terminates it. */
async function terminateWhenWaiting(application: string): Promise<void> {
  const pid = await eventually(async () => {
    const { rows } = await pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
      [application],
    );
    return rows[0]?.pid;
  }, `a backend of ${application} waiting for a lock`);
  const { rows } = await pool.query("SELECT pg_terminate_backend($1) AS done", [pid]);
  expect(rows).toEqual([{ done: true }]);
}

describe("a backend terminated (pg_terminate_backend)", () => {
  it("mid-INSERT: every write of the batch rejects as unavailable, none is visible, and writing again completes", async () => {
    const application = uniqueName("terminated").replaceAll("-", "_");
    const { store, ingestor, commit } = open(urlNamed(application));
    await store.ensureSchema();
    const entries = Array.from({ length: 60 }, (_, n) =>
      kitEntry(ingestor, 1 + Math.floor(n / 20), n % 20, ["all", `only-${n}`]),
    );
    // Rows are inserted in transaction-id order: an uncommitted insert of the last one makes the store's
    // statement wait after it has inserted every other row of the batch.
    const last = [...entries].sort((a, b) => Buffer.compare(idOf(a), idOf(b))).at(-1) as KitEntry;
    const lock = await blocker();
    await lock.query(
      "INSERT INTO tidemark_history (ingestor, tx_id, block, ordering_key, entry) VALUES ($1, $2, $3, $4, $5)",
      [ingestor, idOf(last), kitCodec.block(last), kitCodec.orderingKey(last), kitCodec.encode(last)],
    );
    const writes = Promise.all(entries.map((entry) => outcome(store.write(entry))));
    await terminateWhenWaiting(application);
    const results = await writes;
    expect(
      results.filter((result) => !isUnavailable(result)),
      "writes not rejected as unavailable",
    ).toEqual([]);
    expect(String((results[0] as { error: unknown }).error)).toMatch(
      /postgres history store \(127\.0\.0\.1:\d+\/postgres\) on table "tidemark_history", inserting 60 entries: terminating connection/,
    );
    await lock.query("ROLLBACK");

    await commit(3);
    expect(await storedRows(pool, ingestor), "nothing of the batch is stored").toMatchObject({ ids: [], accounts: 0 });
    expect(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(3))).toEqual([]);
    await Promise.all(entries.map((entry) => store.write(entry)));
    expect(ids(await store.getAccountHistory(`${ingestor}-all`))).toEqual(ids(entries));
    const rows = await storedRows(pool, ingestor);
    expect(rows).toMatchObject({ accounts: 120, whole: true, orphans: [] });
    expect(rows.ids).toHaveLength(60);
  });

  it("mid-replacement: the stored entry and its listing stay as they were, and writing again replaces them", async () => {
    const application = uniqueName("replacing").replaceAll("-", "_");
    const { store, ingestor, commit } = open(urlNamed(application));
    const first = kitEntry(ingestor, 1, 0, ["a", "b"]);
    await store.write(first);
    const newer = { ...first, revision: 1, accounts: [`${ingestor}-c`] };
    // An uncommitted account row of the new listing: the replacement waits there, after it has updated
    // the entry and deleted its old listing in its transaction.
    const lock = await blocker();
    await lock.query(
      "INSERT INTO tidemark_history_accounts (ingestor, account, ordering_key, tx_id) VALUES ($1, $2, $3, $4)",
      [ingestor, `${ingestor}-c`, kitCodec.orderingKey(newer), idOf(newer)],
    );
    const write = outcome(store.write(newer));
    await terminateWhenWaiting(application);
    const result = await write;
    expect(isUnavailable(result), String((result as { error?: unknown }).error)).toBe(true);
    expect(String((result as { error: unknown }).error)).toContain("settling 1 entries already stored");
    await lock.query("ROLLBACK");

    await commit(1);
    expect(await store.getTransaction(idOf(first))).toEqual(first);
    expect(ids(await store.getAccountHistory(`${ingestor}-b`))).toEqual([first.id]);
    expect(await storedRows(pool, ingestor)).toMatchObject({ accounts: 2, whole: true });
    await store.write(newer);
    expect(await store.getTransaction(idOf(first))).toEqual(newer);
    expect(await store.getAccountHistory(`${ingestor}-b`)).toEqual([]);
    expect(await storedRows(pool, ingestor)).toMatchObject({ accounts: 1, whole: true, orphans: [] });
  });
});

describe("a deadlock", () => {
  it("sends a statement PostgreSQL rolled back as a deadlock's victim again", async () => {
    const application = uniqueName("victim").replaceAll("-", "_");
    // The store's backend checks for deadlocks after 300 ms; the other side of the cycle only after a minute,
    // so the store's statement is the victim.
    const { store, ingestor, commit } = open(urlNamed(application, url, { deadlock_timeout: "300ms" }));
    await store.ensureSchema();
    const entries = Array.from({ length: 10 }, (_, n) => kitEntry(ingestor, 1, n)).sort((a, b) =>
      Buffer.compare(idOf(a), idOf(b)),
    );
    const [first, last] = [entries[0], entries.at(-1)] as [KitEntry, KitEntry];
    const insert = (client: pg.PoolClient, entry: KitEntry) =>
      client.query(
        "INSERT INTO tidemark_history (ingestor, tx_id, block, ordering_key, entry) VALUES ($1, $2, $3, $4, $5)",
        [ingestor, idOf(entry), kitCodec.block(entry), kitCodec.orderingKey(entry), kitCodec.encode(entry)],
      );
    const other = await blocker();
    await other.query("SET LOCAL deadlock_timeout = '60s'");
    await insert(other, last);
    // The store inserts the first entry, then waits for the last; the other side then waits for the first.
    const writes = Promise.all(entries.map((entry) => outcome(store.write(entry))));
    await eventually(async () => {
      const { rows } = await pool.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [application],
      );
      return rows[0];
    }, "the store waiting for the last entry");
    const closing = insert(other, first);
    await closing;
    await other.query("ROLLBACK");
    const results = await writes;
    expect(results.filter((result) => "error" in result)).toEqual([]);
    await commit(1);
    expect(ids(await store.getAccountHistory(`${ingestor}-a`))).toEqual(ids(entries));
    expect(await storedRows(pool, ingestor)).toMatchObject({ accounts: 10, whole: true });
  });
});

describe("through a fault proxy", () => {
  async function proxied() {
    const target = new URL(url);
    const proxy = await TcpFaultProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const through = new URL(url);
    through.hostname = "127.0.0.1";
    through.port = String(proxy.port);
    return { proxy, ...open(through.toString()) };
  }

  it("rejects a batch whose answer is lost after the server applied it; each entry is whole, and writing again adds nothing", async () => {
    const { proxy, store, ingestor, commit } = await proxied();
    await store.ensureSchema();
    const marker = uniqueName("lose-the-answer");
    const entries = Array.from({ length: 20 }, (_, n) => kitEntry(ingestor, 1, n, n === 7 ? ["all", marker] : ["all"]));
    const fired = proxy.loseAnswerTo(marker);
    const results = await Promise.all(entries.map((entry) => outcome(store.write(entry))));
    expect(fired(), "the answer to the INSERT was lost").toBe(true);
    expect(results.filter((result) => !isUnavailable(result))).toEqual([]);
    // One statement, applied before its answer was lost: all of it, each entry with its listing.
    expect(await storedRows(pool, ingestor)).toMatchObject({ accounts: 21, whole: true });

    await retrying(() => Promise.all(entries.map((entry) => store.write(entry))));
    await commit(1);
    expect(ids(await store.getAccountHistory(`${ingestor}-all`))).toEqual(ids(entries));
    expect((await storedRows(pool, ingestor)).ids).toHaveLength(20);
  });

  it("rejects writes and reads as unavailable while the server is unreachable, and goes on once it is back", async () => {
    const { proxy, store, ingestor, commit } = await proxied();
    const before = kitEntry(ingestor, 1, 0);
    await store.write(before);
    await commit(1);
    proxy.down();
    const during = kitEntry(ingestor, 1, 1);
    const [write, read] = await Promise.all([
      outcome(store.write(during)),
      outcome(store.getTransaction(idOf(before))),
    ]);
    expect(isUnavailable(write), String((write as { error?: unknown }).error)).toBe(true);
    expect(isUnavailable(read), String((read as { error?: unknown }).error)).toBe(true);
    expect(String((write as { error: unknown }).error)).not.toContain(new URL(url).password);
    proxy.resume();
    await retrying(() => store.write(during));
    expect(ids(await retrying(() => store.getAccountHistory(`${ingestor}-a`)))).toEqual(ids([before, during]));
  });
});

describe("a server restart between the history write and the commit", () => {
  /** A server of its own that can be restarted, or, against POSTGRES_URL, every connection cut for a while. */
  async function restartable(): Promise<{ url: string; restart: (kill: boolean) => Promise<void> }> {
    if (!inject("postgresLocal")) {
      const target = new URL(url);
      const proxy = await TcpFaultProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
      cleanups.push(() => proxy.close());
      target.hostname = "127.0.0.1";
      target.port = String(proxy.port);
      return {
        url: target.toString(),
        restart: async () => {
          proxy.down();
          await sleep(1000);
          proxy.resume();
        },
      };
    }
    const server = await startPostgres();
    cleanups.push(() => server.close());
    return {
      url: server.url,
      restart: async (kill) => {
        await server.stop(kill ? { signal: "SIGKILL" } : {});
        await server.start();
      },
    };
  }

  it("keeps what was written (fast shutdown, then SIGKILL with crash recovery); it becomes visible once committed", async () => {
    const server = await restartable();
    const admin = openPool(server.url);
    cleanups.push(() => admin.end());
    await createCommitTable(admin);
    const ingestor = uniqueName("restart");
    const store = new PostgresHistoryStore({
      connectionString: server.url,
      codec: kitCodec,
      ingestor,
      commitTable: COMMITS,
    });
    cleanups.push(() => store.close());
    const commit = (block: number) => retrying(() => commitPointer(admin, ingestor, pointerFromNumber(block)));
    const history = () => retrying(() => store.getBlockRange(pointerFromNumber(1), pointerFromNumber(9)));
    const written: KitEntry[] = [];
    for (const [round, kill] of [false, true].entries()) {
      const blocks = [1, 2, 3].map((n) => 3 * round + n);
      const entries = blocks.flatMap((block) => [kitEntry(ingestor, block, 0), kitEntry(ingestor, block, 1, ["b"])]);
      await retrying(() => Promise.all(entries.map((entry) => store.write(entry))));
      written.push(...entries);
      await commit(blocks[0] as number);

      await server.restart(kill);

      expect(ids(await history()), `only block ${blocks[0]} of round ${round} is committed`).toEqual(
        ids(written.slice(0, written.length - 4)),
      );
      await commit(blocks[2] as number);
      expect(ids(await history())).toEqual(ids(written));
      expect(ids(await store.getAccountHistory(`${ingestor}-b`))).toEqual(ids(written.filter((e) => e.index === 1)));
      // Written again after the restart, as a new holder would: nothing is added.
      await retrying(() => Promise.all(entries.map((entry) => store.write(entry))));
      const { rows } = await admin.query("SELECT count(*)::int AS n FROM tidemark_history WHERE ingestor = $1", [
        ingestor,
      ]);
      expect(rows).toEqual([{ n: written.length }]);
    }
  });
});
