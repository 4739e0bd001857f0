import { type KitEntry, kitCodec, uniqueName } from "@tidemark/conformance";
import {
  ConfigurationError,
  CorruptRecordError,
  DoubleInsertError,
  type HistoryCodec,
  InvalidArgumentError,
  isTidemarkError,
  MemoryCommitter,
  MemoryLock,
  MemoryLockServer,
  type Pointer,
  pointerFromHex,
  pointerFromNumber,
  run,
  type SequenceEntry,
  SequenceIngestor,
  sequenceCodec,
  sleep,
} from "@tidemark/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  checkHistorySchema,
  createHistorySchema,
  createSchema,
  historySchemaSql,
  PostgresCommitter,
  PostgresHistoryStore,
  type PostgresHistoryStoreOptions,
} from "../src/index.js";
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
  storedRows,
  url,
  urlNamed,
} from "./history-support.js";

const pool = openPool();
beforeAll(() => createCommitTable(pool));
afterAll(() => pool.end());
const opened: PostgresHistoryStore<unknown>[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function open<E = KitEntry>(options: Partial<PostgresHistoryStoreOptions<E>> = {}) {
  const ingestor = options.ingestor ?? uniqueName("history");
  const store = new PostgresHistoryStore<E>({
    connectionString: url,
    codec: kitCodec as unknown as HistoryCodec<E>,
    commitTable: COMMITS,
    ...options,
    ingestor,
  });
  opened.push(store as PostgresHistoryStore<unknown>);
  return { store, ingestor, commit: (block: number | Pointer) => commitAt(ingestor, block) };
}

const commitAt = (ingestor: string, block: number | Pointer) =>
  commitPointer(pool, ingestor, typeof block === "number" ? pointerFromNumber(block) : block);

const tableName = (prefix: string) => uniqueName(prefix).replaceAll("-", "_").toLowerCase();

describe("schema", () => {
  it("creates the tables idempotently, also from several stores at once", async () => {
    const table = tableName("hist");
    const accountTable = `${table}_acc`;
    await Promise.all(Array.from({ length: 4 }, () => createHistorySchema(pool, { table, accountTable })));
    await createHistorySchema(pool, { table, accountTable });
    await checkHistorySchema(pool, { table, accountTable });
    const { rows } = await pool.query("SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname", [
      table,
    ]);
    expect(rows.map((row) => row.indexdef)).toEqual([
      expect.stringMatching(new RegExp(`INDEX ${table}_by_block .* \\(ingestor, block, ordering_key\\)`)),
      expect.stringMatching(/UNIQUE INDEX .* \(ingestor, tx_id\)/),
    ]);
  });

  it("prints the same schema as plain SQL, which works on its own", async () => {
    const table = tableName("plain");
    const sql = historySchemaSql({ table, accountTable: `${table}_acc` });
    expect(sql).toContain(`CREATE TABLE IF NOT EXISTS "${table}"`);
    await pool.query(sql);
    await checkHistorySchema(pool, { table, accountTable: `${table}_acc` });
  });

  it("names a missing table, a column of another type and another primary key", async () => {
    const table = tableName("shape");
    const accountTable = `${table}_acc`;
    const names = { table, accountTable };
    await expect(checkHistorySchema(pool, names)).rejects.toThrow(ConfigurationError);
    await expect(checkHistorySchema(pool, names)).rejects.toThrow(`table "${table}" does not exist`);
    const { store } = open({ table, accountTable, createTables: false });
    const write = await outcome(store.write(kitEntry("x", 1, 0)));
    expect(isTidemarkError((write as { error: unknown }).error, ConfigurationError)).toBe(true);
    expect(await pool.query("SELECT to_regclass($1) AS t", [table])).toMatchObject({ rows: [{ t: null }] });

    await pool.query(`CREATE TABLE ${table} (ingestor text, tx_id bytea, block text, ordering_key bytea, entry bytea,
      PRIMARY KEY (ingestor, tx_id))`);
    await expect(checkHistorySchema(pool, names)).rejects.toThrow(
      `column "block" of table "${table}" is text, expected bytea`,
    );
    // A store that may create tables still checks what it finds, and writes nothing into it.
    const creating = open({ table, accountTable });
    await expect(creating.store.write(kitEntry("x", 1, 0))).rejects.toThrow(/column "block" .* is text/);
    expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: 0 }]);
    expect((await pool.query("SELECT to_regclass($1) AS t", [accountTable])).rows, "nothing created beside it").toEqual(
      [{ t: null }],
    );

    await pool.query(`ALTER TABLE ${table} DROP COLUMN block`);
    await expect(checkHistorySchema(pool, names)).rejects.toThrow(`table "${table}" has no column "block" (bytea)`);
    await pool.query(`ALTER TABLE ${table} ADD COLUMN block bytea`);
    await pool.query(`CREATE TABLE ${accountTable} (ingestor text, account text, ordering_key bytea, tx_id bytea,
      PRIMARY KEY (ingestor, account, tx_id))`);
    await expect(checkHistorySchema(pool, names)).rejects.toThrow(
      `the primary key of table "${accountTable}" is (ingestor, account, tx_id), expected (ingestor, account, ordering_key, tx_id)`,
    );
  });

  it("names a missing commit table, or one whose pointer is not bytea, unless `committed` is given", async () => {
    const commitTable = tableName("commits");
    const { store } = open({ commitTable });
    await expect(store.getTransaction(idOf(kitEntry("x", 1, 0)))).rejects.toThrow(
      `commit table "${commitTable}" does not exist`,
    );
    await pool.query(`CREATE TABLE ${commitTable} (ingestor text PRIMARY KEY, latest text)`);
    const error = await outcome(store.getAccountHistory("a"));
    expect(isTidemarkError((error as { error: unknown }).error, ConfigurationError)).toBe(true);
    expect(String((error as { error: unknown }).error)).toContain(
      `column "latest" of commit table "${commitTable}" is text, expected bytea`,
    );
    const external = open({ commitTable, committed: async () => pointerFromNumber(1) });
    const entry = kitEntry(external.ingestor, 1, 0);
    await external.store.write(entry);
    expect(await external.store.getTransaction(idOf(entry))).toEqual(entry);
  });

  it("refuses a table name that is not an identifier before connecting", () => {
    expect(() => open({ table: "history; DROP TABLE x" })).toThrow(InvalidArgumentError);
    expect(() => open({ commitTable: 'a"b' })).toThrow(/not an identifier/);
  });
});

describe("writes", () => {
  it("sends the writes of one turn as one INSERT per batchSize entries", async () => {
    // Every statement of the store takes a connection of the pool it is given: count what it takes.
    const counted = openPool();
    const { store, ingestor, commit } = open({ batchSize: 100, pool: counted });
    await store.ensureSchema();
    let statements = 0;
    counted.on("acquire", () => statements++);
    const entries = Array.from({ length: 250 }, (_, n) => kitEntry(ingestor, 1 + Math.floor(n / 50), n % 50));
    await Promise.all(entries.map((entry) => store.write(entry)));
    expect(statements).toBe(3);
    await commit(5);
    expect(ids(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(5)))).toEqual(ids(entries));
    await store.close();
    await counted.end();
  });

  it("refuses a contradicting write alone; the rest of its batch lands", async () => {
    const { store, ingestor, commit } = open();
    const stored = kitEntry(ingestor, 1, 0);
    await store.write(stored);
    const fresh = [kitEntry(ingestor, 1, 1), kitEntry(ingestor, 2, 0)];
    const newer = { ...kitEntry(ingestor, 1, 2), revision: 0 };
    await store.write(newer);
    const results = await Promise.all([
      outcome(store.write(fresh[0] as KitEntry)),
      outcome(store.write({ ...stored, payload: "forged", accounts: [`${ingestor}-forged`] })),
      outcome(store.write({ ...newer, revision: 3 })),
      outcome(store.write(fresh[1] as KitEntry)),
    ]);
    expect(results.map((result) => ("error" in result ? "error" : "ok"))).toEqual(["ok", "error", "ok", "ok"]);
    const error = (results[1] as { error: unknown }).error;
    expect(isTidemarkError(error, DoubleInsertError), String(error)).toBe(true);
    expect(String(error)).toMatch(/history entry [0-9a-f]+ of ".*" in table "tidemark_history" not written/);
    await commit(2);
    expect(await store.getTransaction(idOf(stored))).toEqual(stored);
    expect(await store.getTransaction(idOf(newer))).toEqual({ ...newer, revision: 3 });
    expect(await store.getAccountHistory(`${ingestor}-forged`)).toEqual([]);
    const rows = await storedRows(pool, ingestor);
    expect(rows.ids).toHaveLength(4);
    expect(rows.whole, "every entry has exactly its account rows").toBe(true);
  });

  it("makes two writers of the same entries in opposite orders wait on each other in one order, never deadlock", async () => {
    const ingestor = uniqueName("order");
    const entries = Array.from({ length: 40 }, (_, n) => kitEntry(ingestor, 1, n)).sort((a, b) =>
      Buffer.compare(idOf(a), idOf(b)),
    );
    // Deadlocks would go unnoticed for 20 s (the server's detection, which the store would retry after).
    const names = ["up", "down"].map((name) => uniqueName(name).replaceAll("-", "_"));
    const [up, down] = names.map(
      (name) => open({ ingestor, connectionString: urlNamed(name, url, { deadlock_timeout: "20s" }) }).store,
    ) as [PostgresHistoryStore<KitEntry>, PostgresHistoryStore<KitEntry>];
    await Promise.all([up.ensureSchema(), down.ensureSchema()]);
    // An uncommitted insert of the middle entry holds both writers' statements until it rolls back.
    const middle = entries[20] as KitEntry;
    const lock = await pool.connect();
    try {
      await lock.query("BEGIN");
      await lock.query(
        "INSERT INTO tidemark_history (ingestor, tx_id, block, ordering_key, entry) VALUES ($1, $2, $3, $4, $5)",
        [ingestor, idOf(middle), kitCodec.block(middle), kitCodec.orderingKey(middle), kitCodec.encode(middle)],
      );
      const writes = Promise.all([
        Promise.all(entries.map((entry) => up.write(entry))),
        Promise.all([...entries].reverse().map((entry) => down.write(entry))),
      ]);
      await eventually(async () => {
        const { rows } = await pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ANY($1) AND wait_event_type = 'Lock'",
          [names],
        );
        return rows[0].n === 2 ? true : undefined;
      }, "both writers waiting");
      await lock.query("ROLLBACK");
      const finished = await Promise.race([writes.then(() => true), sleep(5000).then(() => false)]);
      expect(finished, "both writers finished (no deadlock)").toBe(true);
    } finally {
      await lock.query("ROLLBACK").catch(() => {});
      lock.release();
    }
    const rows = await storedRows(pool, ingestor);
    expect(rows.ids).toHaveLength(40);
    expect(rows).toMatchObject({ accounts: 40, whole: true });
  });

  it("judges several versions of one transaction in one batch in the order they were written", async () => {
    const { store, ingestor, commit } = open();
    const base = kitEntry(ingestor, 1, 0, ["a", "b"]);
    await Promise.all([
      store.write(base),
      store.write({ ...base, revision: 2, accounts: [`${ingestor}-c`] }),
      store.write({ ...base, revision: 1 }),
    ]);
    await commit(1);
    const expected = { ...base, revision: 2, accounts: [`${ingestor}-c`] };
    expect(await store.getTransaction(idOf(base))).toEqual(expected);
    expect(await store.getAccountHistory(`${ingestor}-c`)).toEqual([expected]);
    expect(await store.getAccountHistory(`${ingestor}-a`), "the replaced version's listing is gone").toEqual([]);
    expect((await storedRows(pool, ingestor)).accounts).toBe(1);
  });

  it("writes an entry and its account rows together or not at all", async () => {
    const table = tableName("atomic");
    const accountTable = `${table}_acc`;
    await createHistorySchema(pool, { table, accountTable });
    // The server refuses one account row: the entry row of the same statement must not stay.
    await pool.query(`ALTER TABLE ${accountTable} ADD CONSTRAINT no_poison CHECK (account NOT LIKE '%poison')`);
    const { store, ingestor, commit } = open({ table, accountTable });
    const poisoned = kitEntry(ingestor, 1, 0, ["a", "poison"]);
    await expect(store.write(poisoned)).rejects.toThrow(/no_poison/);
    const count = async () =>
      (await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ingestor = $1`, [ingestor])).rows[0].n;
    expect(await count()).toBe(0);
    await pool.query(`ALTER TABLE ${accountTable} DROP CONSTRAINT no_poison`);
    await store.write(poisoned);
    await commit(1);
    expect(await store.getAccountHistory(`${ingestor}-poison`)).toEqual([poisoned]);
    expect(await count()).toBe(1);
  });

  it("reports an entry that does not decode as CorruptRecordError naming the table and id, and writes nothing over it", async () => {
    const { store, ingestor, commit } = open();
    const entry = kitEntry(ingestor, 1, 0);
    await store.write(entry);
    await commit(1);
    await pool.query("UPDATE tidemark_history SET entry = '\\x00ff'::bytea WHERE ingestor = $1", [ingestor]);
    const hex = Buffer.from(idOf(entry)).toString("hex");
    const read = await outcome(store.getTransaction(idOf(entry)));
    expect(isTidemarkError((read as { error: unknown }).error, CorruptRecordError)).toBe(true);
    expect(String((read as { error: unknown }).error)).toContain(
      `entry ${hex} of "${ingestor}" in table "tidemark_history"`,
    );
    await expect(store.getAccountHistory(`${ingestor}-a`)).rejects.toThrow(CorruptRecordError);
    const write = await outcome(store.write({ ...entry, revision: 1 }));
    expect(isTidemarkError((write as { error: unknown }).error, CorruptRecordError)).toBe(true);
    const { rows } = await pool.query("SELECT entry FROM tidemark_history WHERE ingestor = $1", [ingestor]);
    expect(rows).toEqual([{ entry: Buffer.from([0, 0xff]) }]);
  });

  it("sends pending writes on close(), ends only a pool it opened, and refuses calls afterwards", async () => {
    const application = uniqueName("closing").replaceAll("-", "_");
    const { store, ingestor, commit } = open({ connectionString: urlNamed(application) });
    const entry = kitEntry(ingestor, 1, 0);
    const written = store.write(entry);
    await store.close();
    await written;
    await store.close();
    // A backend leaves pg_stat_activity shortly after its client hangs up.
    await eventually(async () => {
      const { rows } = await pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [
        application,
      ]);
      return rows[0].n === 0 ? true : undefined;
    }, "the store's connections to close");
    await expect(store.write(entry)).rejects.toThrow(InvalidArgumentError);
    await expect(store.getTransaction(idOf(entry))).rejects.toThrow(/after close\(\)/);

    const shared = open({ ingestor, pool }).store;
    await commit(1);
    expect(await shared.getTransaction(idOf(entry))).toEqual(entry);
    await shared.close();
    expect(pool.ended).toBe(false);
  });
});

describe("reads", () => {
  // A codec whose pointers and ordering keys vary in length, as the pointer contract allows.
  interface Raw {
    readonly id: string;
    readonly block: string;
    readonly key: string;
  }
  const rawCodec: HistoryCodec<Raw> = {
    transactionId: (entry) => new TextEncoder().encode(entry.id),
    accounts: () => ["all"],
    orderingKey: (entry) => pointerFromHex(entry.key),
    block: (entry) => pointerFromHex(entry.block),
    encode: (entry) => new TextEncoder().encode(JSON.stringify(entry)),
    decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) as Raw,
  };

  it("orders bytea as pointers: unsigned bytes, a shorter prefix first (…ff before …ff00)", async () => {
    const { store, commit } = open<Raw>({ codec: rawCodec });
    const entries: Raw[] = [
      { id: "a", block: "01fe", key: "01fe" },
      { id: "b", block: "01ff", key: "01ff" },
      { id: "c", block: "01ff00", key: "01ff00" },
      { id: "d", block: "02", key: "02" },
      { id: "e", block: "80", key: "80" },
    ];
    await Promise.all(entries.map((entry) => store.write(entry)));
    await commit(pointerFromHex("01ff"));
    expect(ids(await store.getAccountHistory("all"))).toEqual(["a", "b"]);
    expect(await store.getTransaction(new TextEncoder().encode("c")), "01ff00 is above 01ff").toBeNull();
    await commit(pointerFromHex("7f"));
    expect(ids(await store.getBlockRange(pointerFromHex("01ff"), pointerFromHex("02")))).toEqual(["b", "c", "d"]);
    expect(ids(await store.getAccountHistory("all", { cursor: pointerFromHex("01ff") }))).toEqual(["c", "d"]);
    expect(ids(await store.getAccountHistory("all", { cursor: pointerFromHex("01ff00"), order: "desc" }))).toEqual([
      "b",
      "a",
    ]);
    await commit(pointerFromHex("ff"));
    expect(ids(await store.getAccountHistory("all", { order: "desc", limit: 2 }))).toEqual(["e", "d"]);
  });

  it("keeps ingestors apart in one table", async () => {
    const a = open();
    const b = open();
    const entry = kitEntry(a.ingestor, 1, 0);
    await a.store.write(entry);
    await a.commit(1);
    await b.commit(1);
    expect(await a.store.getTransaction(idOf(entry))).toEqual(entry);
    expect(await b.store.getTransaction(idOf(entry))).toBeNull();
    expect(await b.store.getAccountHistory(`${a.ingestor}-a`)).toEqual([]);
  });

  it("rejects a limit that is not a positive integer", async () => {
    const { store } = open();
    await expect(store.getAccountHistory("a", { limit: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(store.getAccountHistory("a", { limit: 1.5 })).rejects.toThrow(InvalidArgumentError);
  });
});

it("reads follow a PostgresCommitter on the default commit table, in the same statement", async () => {
  await createSchema(pool);
  const committer = new PostgresCommitter({ pool });
  const { store, ingestor } = open({ commitTable: undefined });
  const entries = [kitEntry(ingestor, 1, 0), kitEntry(ingestor, 2, 0)];
  await Promise.all(entries.map((entry) => store.write(entry)));
  expect(await store.getAccountHistory(`${ingestor}-a`)).toEqual([]);
  await committer.commit(ingestor, null, pointerFromNumber(1));
  expect(ids(await store.getAccountHistory(`${ingestor}-a`))).toEqual([entries[0]?.id]);
  await committer.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2));
  expect(ids(await store.getAccountHistory(`${ingestor}-a`))).toEqual(ids(entries));
  await committer.close();
});

it("ingests through run with every transaction stored exactly once", async () => {
  const committer = new MemoryCommitter();
  const ingestor = uniqueName("seq");
  const { store } = open<SequenceEntry>({
    ingestor,
    codec: sequenceCodec,
    committed: (signal) => committer.latest(ingestor, { signal }),
  });
  await run({
    signal: AbortSignal.timeout(30_000),
    lock: new MemoryLock({ key: "seq", server: new MemoryLockServer() }),
    committer,
    writer: store,
    ingestor: new SequenceIngestor({ name: ingestor, entriesPerBlock: 3 }),
    until: pointerFromNumber(200),
  });
  // The ingestor runs ahead of `until`; what it wrote beyond stays invisible and is never duplicated.
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n, count(DISTINCT tx_id)::int AS d, count(*) FILTER (WHERE block <= $2)::int AS visible
     FROM tidemark_history WHERE ingestor = $1`,
    [ingestor, pointerFromNumber(200)],
  );
  expect(rows[0].n).toBe(rows[0].d);
  expect(rows[0].visible).toBe(600);
  expect((await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(10_000))).length).toBe(600);
});
