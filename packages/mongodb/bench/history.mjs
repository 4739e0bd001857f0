// Write throughput of MongoHistoryStore against one server, measured side by side in one run: entries
// per second through the store beside raw unordered insertMany calls of the same documents, one call
// per block of entries, the same number of blocks in flight, the same indexes and write concern; with
// one block in flight and with several (where the store may merge blocks that finish in the same turn
// into one insert: the average documents per insert command are printed for both).
// Uses MONGODB_URI when set, else starts mongo-java-server (memory backend) on loopback.
import { kitCodec } from "@tidemark/conformance";
import { startMongoJavaServer } from "@tidemark/test-servers";
import { Binary, MongoClient } from "mongodb";
import { HISTORY_INDEXES, MongoHistoryStore } from "../dist/index.js";

const ENTRIES_PER_BLOCK = 100;
const IN_FLIGHT = [1, 4];
const BLOCKS_PER_ROUND = 25;
const ROUNDS = 15;
const WARMUP_ROUNDS = 1;

const external = process.env.MONGODB_URI;
const server = external ? null : await startMongoJavaServer({ backend: "memory" });
const uri = external ?? server.uri;
const client = new MongoClient(uri, { monitorCommands: true });
const inserts = { commands: 0, documents: 0 };
client.on("commandStarted", (event) => {
  if (event.commandName !== "insert") return;
  inserts.commands++;
  inserts.documents += event.command.documents?.length ?? 0;
});
const stores = [];
try {
  await client.connect();
  const db = client.db();
  for (const name of ["bench_history", "bench_history_raw"])
    await db
      .collection(name)
      .drop()
      .catch(() => {});
  const raw = db.collection("bench_history_raw", { writeConcern: { w: "majority" } });
  await raw.createIndexes([...HISTORY_INDEXES]);
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
  const label = external ? "MONGODB_URI" : "mongo-java-server 1.47.0 (memory backend) on loopback";
  const size = kitCodec.encode(entryOf(run, 1, 1)).length;
  console.log(
    `server: ${label}; Node ${process.versions.node}; ${(ROUNDS - WARMUP_ROUNDS) * BLOCKS_PER_ROUND * ENTRIES_PER_BLOCK} entries ` +
      `of ${size} bytes per kind and setting, blocks of ${ENTRIES_PER_BLOCK} entries`,
  );

  // Each kind writes a block's entries and waits for them, with a given number of blocks in flight.
  const kinds = {
    raw: async (ingestor, block) => {
      const documents = [];
      for (let index = 0; index < ENTRIES_PER_BLOCK; index++) {
        const entry = entryOf(ingestor, block, index);
        documents.push({
          _id: { i: ingestor, t: new Binary(kitCodec.transactionId(entry)) },
          block: Buffer.from(kitCodec.block(entry)).toString("hex"),
          key: Buffer.from(kitCodec.orderingKey(entry)).toString("hex"),
          entry: new Binary(kitCodec.encode(entry)),
          accounts: [...new Set(kitCodec.accounts(entry))],
        });
      }
      await raw.insertMany(documents, { ordered: false });
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
    const sizes = { raw: { commands: 0, documents: 0 }, store: { commands: 0, documents: 0 } };
    const order = Object.keys(kinds);
    for (let round = 0; round < ROUNDS; round++) {
      // Rotating order, so that a noisy neighbour, GC or server drift hits both alike.
      order.push(order.shift());
      for (const kind of order) {
        const ingestor = `${run}-${kind}-${inFlight}-${round}`;
        const store = new MongoHistoryStore({
          client,
          codec: kitCodec,
          ingestor,
          collection: "bench_history",
          committed: async () => null,
        });
        stores.push(store);
        await store.ensureIndexes();
        let next = 1;
        const before = { ...inserts };
        const started = performance.now();
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next <= BLOCKS_PER_ROUND) await kinds[kind](ingestor, next++, store);
          }),
        );
        if (round < WARMUP_ROUNDS) continue;
        totals[kind] += performance.now() - started;
        sizes[kind].commands += inserts.commands - before.commands;
        sizes[kind].documents += inserts.documents - before.documents;
      }
      written += BLOCKS_PER_ROUND * ENTRIES_PER_BLOCK;
    }
    const entries = (ROUNDS - WARMUP_ROUNDS) * BLOCKS_PER_ROUND * ENTRIES_PER_BLOCK;
    const rate = (ms) => entries / (ms / 1000);
    const perInsert = (kind) => (sizes[kind].documents / sizes[kind].commands).toFixed(0);
    const suffix = `${inFlight}_in_flight`;
    console.log(
      `raw_insert_many_unordered_${suffix}: ${rate(totals.raw).toFixed(0)} entries/s (${perInsert("raw")} per insert)`,
    );
    console.log(
      `history_store_write_${suffix}: ${rate(totals.store).toFixed(0)} entries/s (${perInsert("store")} per insert)`,
    );
    console.log(`store_vs_raw_${suffix}: ${(totals.raw / totals.store).toFixed(2)} x (target >= 0.8)`);
  }
  const stored = await db.collection("bench_history").countDocuments({ "_id.i": { $regex: `^${run}-store-` } });
  if (stored !== written) throw new Error(`the store holds ${stored} entries, ${written} were written`);
} finally {
  for (const store of stores) await store.close();
  await client.close();
  await server?.close();
}
