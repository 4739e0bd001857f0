// Write throughput of PostgresHistoryStore against one server, measured side by side in one run:
// entries per second through the store beside raw multi-row INSERT … ON CONFLICT DO NOTHING statements
// of the same rows (the entries and their account rows in one statement per block, as the store sends
// them), into tables of the same schema, with the same number of blocks in flight on pools of the same
// size. With one block in flight and with several.
// Uses POSTGRES_URL when set, else starts a PostgreSQL of its own on loopback.
import { kitCodec } from "@tidemark/conformance";
import { startPostgres } from "@tidemark/test-servers";
import pg from "pg";
import { createHistorySchema, PostgresHistoryStore } from "../dist/index.js";

const ENTRIES_PER_BLOCK = 100;
const IN_FLIGHT = [1, 4];
const BLOCKS_PER_ROUND = 20;
const ROUNDS = 13;
const WARMUP_ROUNDS = 1;
const POOL_SIZE = 8;

const external = process.env.POSTGRES_URL?.trim();
const server = external ? null : await startPostgres();
const url = external || server.url;
const newPool = () => {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  pool.on("error", () => {});
  return pool;
};
const admin = newPool();
const rawPool = newPool();
const storePool = newPool();
const stores = [];
try {
  const tables = {
    store: { table: "bench_history", accountTable: "bench_history_accounts" },
    raw: { table: "bench_history_raw", accountTable: "bench_history_raw_accounts" },
  };
  for (const names of Object.values(tables)) {
    await admin.query(`DROP TABLE IF EXISTS ${names.table}, ${names.accountTable}`);
    await createHistorySchema(admin, names);
  }
  const { rows } = await admin.query("SHOW server_version");
  const run = `bench-${Date.now().toString(36)}`;
  const entryOf = (ingestor, block, index) => ({
    id: `${ingestor}-${block}-${index}`,
    block,
    index,
    accounts: [`sender-${index % 17}`, `receiver-${(block + index) % 23}`, "mint"],
    // About the size of a Kin4 entry (a transfer's wire transaction and its metadata).
    payload: "p".repeat(320),
    revision: 0,
  });
  const label = external ? "POSTGRES_URL" : `PostgreSQL ${rows[0].server_version} (fsync off) on loopback`;
  const size = kitCodec.encode(entryOf(run, 1, 1)).length;
  console.log(
    `server: ${label}; Node ${process.versions.node}; ${(ROUNDS - WARMUP_ROUNDS) * BLOCKS_PER_ROUND * ENTRIES_PER_BLOCK} entries ` +
      `of ${size} bytes (3 accounts each) per kind and setting, blocks of ${ENTRIES_PER_BLOCK} entries, pools of ${POOL_SIZE}`,
  );

  // The raw statement: every entry row and account row of a block, each with its own parameters.
  const rawInsert = (ingestor, block) => {
    const values = [];
    const entries = [];
    const accounts = [];
    for (let index = 0; index < ENTRIES_PER_BLOCK; index++) {
      const entry = entryOf(ingestor, block, index);
      const id = kitCodec.transactionId(entry);
      const key = kitCodec.orderingKey(entry);
      values.push(ingestor, id, kitCodec.block(entry), key, kitCodec.encode(entry));
      const at = values.length;
      entries.push(`($${at - 4}, $${at - 3}, $${at - 2}, $${at - 1}, $${at})`);
      for (const account of new Set(kitCodec.accounts(entry))) {
        values.push(ingestor, account, key, id);
        const n = values.length;
        accounts.push(`($${n - 3}::text, $${n - 2}::text, $${n - 1}::bytea, $${n}::bytea)`);
      }
    }
    return {
      text: `WITH e AS (INSERT INTO ${tables.raw.table} (ingestor, tx_id, block, ordering_key, entry)
          VALUES ${entries.join(", ")} ON CONFLICT DO NOTHING)
        INSERT INTO ${tables.raw.accountTable} (ingestor, account, ordering_key, tx_id)
          VALUES ${accounts.join(", ")} ON CONFLICT DO NOTHING`,
      values,
    };
  };
  // Each kind writes a block's entries and waits for them, with a given number of blocks in flight.
  const kinds = {
    raw: async (ingestor, block) => {
      await rawPool.query(rawInsert(ingestor, block));
    },
    store: async (ingestor, block, store) => {
      const writes = [];
      for (let index = 0; index < ENTRIES_PER_BLOCK; index++) writes.push(store.write(entryOf(ingestor, block, index)));
      await Promise.all(writes);
    },
  };
  let written = 0;
  for (const inFlight of IN_FLIGHT) {
    const totals = { raw: 0, store: 0 };
    const order = Object.keys(kinds);
    for (let round = 0; round < ROUNDS; round++) {
      // Rotating order, so that a noisy neighbour, autovacuum or a checkpoint hits both alike.
      order.push(order.shift());
      for (const kind of order) {
        const ingestor = `${run}-${kind}-${inFlight}-${round}`;
        const store = new PostgresHistoryStore({
          pool: storePool,
          codec: kitCodec,
          ingestor,
          ...tables.store,
          committed: async () => null,
        });
        stores.push(store);
        await store.ensureSchema();
        let next = 1;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next <= BLOCKS_PER_ROUND) await kinds[kind](ingestor, next++, store);
          }),
        );
        if (round < WARMUP_ROUNDS) continue;
        totals[kind] += performance.now() - started;
      }
      written += BLOCKS_PER_ROUND * ENTRIES_PER_BLOCK;
    }
    const entries = (ROUNDS - WARMUP_ROUNDS) * BLOCKS_PER_ROUND * ENTRIES_PER_BLOCK;
    const rate = (ms) => entries / (ms / 1000);
    const suffix = `${inFlight}_in_flight`;
    console.log(`raw_multi_row_insert_${suffix}: ${rate(totals.raw).toFixed(0)} entries/s`);
    console.log(`history_store_write_${suffix}: ${rate(totals.store).toFixed(0)} entries/s`);
    console.log(`store_vs_raw_${suffix}: ${(totals.raw / totals.store).toFixed(2)} x (target >= 0.8)`);
  }
  const check = async (names) => {
    const result = await admin.query(
      `SELECT (SELECT count(*)::int FROM ${names.table}) AS entries, (SELECT count(*)::int FROM ${names.accountTable}) AS accounts`,
    );
    return result.rows[0];
  };
  for (const [kind, names] of Object.entries(tables)) {
    const stored = await check(names);
    if (stored.entries !== written || stored.accounts !== 3 * written) {
      throw new Error(`${kind} holds ${JSON.stringify(stored)}, ${written} entries with 3 accounts each were written`);
    }
  }
} finally {
  for (const store of stores) await store.close();
  await Promise.all([admin.end(), rawPool.end(), storePool.end()]);
  await server?.close();
}
