import { DatabaseSync } from "node:sqlite";
import {
  ConfigurationError,
  CorruptRecordError,
  InvalidArgumentError,
  MemoryCommitter,
  pointerFromNumber,
  run,
  SequenceIngestor,
  sequenceCodec,
} from "@tidemark/core";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteCommitter, SqliteHistoryStore, SqliteLock } from "../src/index.js";
import { temporaryDatabase } from "./temp-database.js";

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});
function open(path: string, ingestor = "seq") {
  const committer = new SqliteCommitter({ path });
  const store = new SqliteHistoryStore({ path, codec: sequenceCodec, ingestor });
  closers.push(
    () => committer.close(),
    () => store.close(),
  );
  return { committer, store };
}

describe("SqliteHistoryStore", () => {
  it("writes idempotently per transaction id and hides blocks above the committed pointer", async () => {
    const path = temporaryDatabase();
    const { committer, store } = open(path);
    for (const block of [1n, 2n, 3n]) for (let index = 0; index < 4; index++) await store.write({ block, index });
    await store.write({ block: 2n, index: 1 });
    const id = sequenceCodec.transactionId({ block: 2n, index: 1 });
    expect(await store.getTransaction(id), "before any commit").toBeNull();
    await committer.commit("seq", null, pointerFromNumber(2));
    expect(await store.getTransaction(id)).toEqual({ block: 2n, index: 1 });
    expect(await store.getTransaction(sequenceCodec.transactionId({ block: 3n, index: 1 })), "block 3").toBeNull();
    expect(await store.getAccountHistory("account-1")).toEqual([
      { block: 1n, index: 1 },
      { block: 2n, index: 1 },
    ]);
    expect(await store.getAccountHistory("account-1", { order: "desc", limit: 1 })).toEqual([{ block: 2n, index: 1 }]);
    const cursor = sequenceCodec.orderingKey({ block: 1n, index: 1 });
    expect(await store.getAccountHistory("account-1", { cursor })).toEqual([{ block: 2n, index: 1 }]);
    expect(await store.getAccountHistory("account-1", { cursor, order: "desc" })).toEqual([]);
    expect(await store.getBlockRange(pointerFromNumber(2), pointerFromNumber(3))).toHaveLength(4);
    const counts = new DatabaseSync(path);
    closers.push(() => counts.close());
    expect(counts.prepare("SELECT count(*) AS n FROM tidemark_history").get()).toEqual({ n: 12 });
    expect(counts.prepare("SELECT count(*) AS n FROM tidemark_history_accounts").get()).toEqual({ n: 12 });
  });

  it("takes the committed pointer from another committer when told to", async () => {
    const path = temporaryDatabase();
    const external = new MemoryCommitter();
    const store = new SqliteHistoryStore({
      path,
      codec: sequenceCodec,
      ingestor: "seq",
      committed: () => external.latest("seq"),
    });
    closers.push(() => store.close());
    await store.write({ block: 1n, index: 0 });
    await store.write({ block: 2n, index: 0 });
    expect(await store.getAccountHistory("account-0"), "nothing committed").toEqual([]);
    await external.commit("seq", null, pointerFromNumber(1));
    expect(await store.getAccountHistory("account-0")).toEqual([{ block: 1n, index: 0 }]);
    expect(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(2))).toHaveLength(1);
  });

  it("stores an entry and its account rows together or not at all", async () => {
    const path = temporaryDatabase();
    const { store } = open(path);
    const raw = new DatabaseSync(path);
    closers.push(() => raw.close());
    raw.exec("DROP TABLE tidemark_history_accounts");
    await expect(store.write({ block: 1n, index: 0 })).rejects.toThrow(/no such table/);
    expect(raw.prepare("SELECT count(*) AS n FROM tidemark_history").get(), "entry rolled back").toEqual({ n: 0 });
    // Once the table is back, writing the same entry again stores it in full.
    const { committer, store: repaired } = open(path);
    await repaired.write({ block: 1n, index: 0 });
    await committer.commit("seq", null, pointerFromNumber(1));
    expect(await repaired.getAccountHistory("account-0")).toEqual([{ block: 1n, index: 0 }]);
  });

  it("applies many concurrent writes, each once", async () => {
    const path = temporaryDatabase();
    const { committer, store } = open(path);
    const writes = [];
    for (let block = 1n; block <= 50n; block++)
      for (let index = 0; index < 5; index++) writes.push(store.write({ block, index }));
    writes.push(store.write({ block: 7n, index: 3 }));
    await Promise.all(writes);
    await committer.commit("seq", null, pointerFromNumber(50));
    expect(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(50))).toHaveLength(250);
  });

  it("keeps ingestors apart in one file", async () => {
    const path = temporaryDatabase();
    const a = open(path, "history_KIN3");
    const b = open(path, "history_KIN4");
    await a.store.write({ block: 1n, index: 0 });
    await a.committer.commit("history_KIN3", null, pointerFromNumber(1));
    expect(await b.store.getTransaction(sequenceCodec.transactionId({ block: 1n, index: 0 }))).toBeNull();
  });

  it("ingests through run with every transaction stored exactly once", async () => {
    const path = temporaryDatabase();
    const { committer, store } = open(path);
    const lock = new SqliteLock({ path, key: "seq-lock" });
    closers.push(() => lock.close());
    await run({
      signal: AbortSignal.timeout(20_000),
      lock,
      committer,
      writer: store,
      ingestor: new SequenceIngestor({ name: "seq", entriesPerBlock: 3 }),
      until: pointerFromNumber(200),
    });
    const db = new DatabaseSync(path);
    closers.push(() => db.close());
    // The ingestor runs ahead of `until`; what it wrote beyond stays invisible and is never duplicated.
    const committed = db
      .prepare("SELECT count(*) AS n, count(DISTINCT tx_id) AS d FROM tidemark_history WHERE block <= ?")
      .get(pointerFromNumber(200));
    expect(committed).toEqual({ n: 600, d: 600 });
    const all = db.prepare("SELECT count(*) AS n, count(DISTINCT tx_id) AS d FROM tidemark_history").get() as {
      n: number;
      d: number;
    };
    expect(all.n).toBe(all.d);
    expect((await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(10_000))).length).toBe(600);
    expect(await lock.describe(), "released after run").toBeNull();
  });
});

describe("sqlite bad input", () => {
  it("names a missing table and how to create it", () => {
    const path = temporaryDatabase();
    expect(() => new SqliteCommitter({ path, createTables: false })).toThrow(ConfigurationError);
    expect(() => new SqliteCommitter({ path, createTables: false })).toThrow(/table "tidemark_commits" does not exist/);
    expect(() => new SqliteLock({ path, key: "k", createTables: false })).toThrow(/table "tidemark_locks"/);
  });

  it("rejects a table name that is not a plain identifier", () => {
    expect(() => new SqliteCommitter({ path: ":memory:", table: "x; DROP TABLE y" })).toThrow(ConfigurationError);
  });

  it("reports an empty stored pointer as corrupt, naming the ingestor, and writes nothing", async () => {
    const path = temporaryDatabase();
    const { committer } = open(path);
    const db = new DatabaseSync(path);
    closers.push(() => db.close());
    db.prepare("INSERT INTO tidemark_commits (ingestor, latest) VALUES ('broken', x'')").run();
    await expect(committer.latest("broken")).rejects.toThrow(CorruptRecordError);
    await expect(committer.latest("broken")).rejects.toThrow(/"latest" of ingestor "broken"/);
    await expect(committer.commit("broken", pointerFromNumber(1), pointerFromNumber(2))).rejects.toThrow();
    expect(db.prepare("SELECT length(latest) AS n FROM tidemark_commits WHERE ingestor = 'broken'").get()).toEqual({
      n: 0,
    });
  });

  it("refuses a heartbeat that is not shorter than the lease", () => {
    expect(() => new SqliteLock({ path: ":memory:", key: "k", leaseMs: 1000, heartbeatMs: 1000 })).toThrow(
      InvalidArgumentError,
    );
  });

  it("makes a second connection wait while the lock is held", async () => {
    const path = temporaryDatabase();
    const a = new SqliteLock({ path, key: "k", leaseMs: 1500, heartbeatMs: 500, pollMs: 50 });
    const b = new SqliteLock({ path, key: "k", leaseMs: 1500, heartbeatMs: 500, pollMs: 50 });
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    await a.lock(AbortSignal.timeout(5000));
    await expect(b.lock(AbortSignal.timeout(700))).rejects.toThrow();
    await a.unlock();
    const lease = await b.lock(AbortSignal.timeout(5000));
    expect(lease.token).toBe(2n);
  });
});
