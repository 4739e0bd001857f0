import { type KitEntry, uniqueName } from "@tidemark/conformance";
import { BackendUnavailableError, isTidemarkError, pointerFromNumber, sleep } from "@tidemark/core";
import { startMongoJavaServer, type TcpFaultProxy } from "@tidemark/test-servers";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { MongoHistoryStore } from "../src/index.js";
import { openClient } from "./support/clients.js";
import { historyStore, ids, kitEntry, outcome, retrying } from "./support/history.js";
import { proxyFor } from "./support/proxy.js";

const uri = inject("mongodbUri");
const inspector = openClient();
const stores: MongoHistoryStore<KitEntry>[] = [];
const proxies: TcpFaultProxy[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
  for (const proxy of proxies) await proxy.close();
});

/** A store whose client talks through a fault proxy, and a store on a direct client reading the same entries. */
async function faultyStore(batchSize?: number) {
  const { proxy, uri: proxied } = await proxyFor(uri);
  proxies.push(proxy);
  // The driver retries a write once after a lost connection on a replica set; off, so that the fault shows.
  const client = openClient(proxied, { serverSelectionTimeoutMS: 1000, retryWrites: false });
  const faulty = historyStore(client, batchSize === undefined ? {} : { batchSize });
  const reader = historyStore(inspector, { ingestor: faulty.ingestor });
  stores.push(faulty.store, reader.store);
  await faulty.store.ensureIndexes();
  return { proxy, ...faulty, reader: reader.store };
}

const isUnavailable = (result: { value: unknown } | { error: unknown }) =>
  "error" in result && isTidemarkError(result.error, BackendUnavailableError);

it("rejects a batch whose connection drops mid-batch; nothing is half-visible, and writing again completes", async () => {
  // One batch (one insertMany) larger than the server takes in one insert command, so the driver sends it in two.
  const { maxWriteBatchSize } = await inspector.db("admin").command({ isMaster: 1 });
  const total = Number(maxWriteBatchSize) + 200;
  const { proxy, store, reader, ingestor, commit } = await faultyStore(total);
  const marker = uniqueName("lose-the-answer");
  const entries = Array.from({ length: total }, (_, n) =>
    kitEntry(ingestor, 1 + Math.floor(n / 100), n % 100, n === 0 ? ["all", `${marker}-a`, `${marker}-b`] : ["all"]),
  );
  const lastBlock = (entries.at(-1) as KitEntry).block;
  // The first insert command reaches the server and is applied; its answer is lost and the connection cut.
  const fired = proxy.loseAnswerTo(marker);
  const results = await Promise.all(entries.map((entry) => outcome(store.write(entry))));
  expect(fired(), "the answer to the first command was lost").toBe(true);
  expect(
    results.filter((result) => !isUnavailable(result)),
    "writes not rejected as unavailable",
  ).toEqual([]);

  const stored = await inspector.db().collection("tidemark_history").countDocuments({ "_id.i": ingestor });
  expect(stored, "the first command was applied").toBeGreaterThan(0);
  expect(stored, "the second was never sent").toBeLessThan(total);
  await commit(lastBlock);
  const visible = ids(await reader.getBlockRange(pointerFromNumber(1), pointerFromNumber(lastBlock)));
  const listed = ids(await reader.getAccountHistory(`${ingestor}-all`, { limit: total }));
  expect(visible.length).toBe(stored);
  expect(listed, "every stored entry is listed under its account, and no other").toEqual(visible);

  await retrying(() => Promise.all(entries.map((entry) => store.write(entry))));
  expect(ids(await reader.getBlockRange(pointerFromNumber(1), pointerFromNumber(lastBlock)))).toEqual(ids(entries));
  expect(ids(await reader.getAccountHistory(`${ingestor}-all`, { limit: total + 1 }))).toEqual(ids(entries));
  expect(ids(await reader.getAccountHistory(`${ingestor}-${marker}-b`))).toEqual([entries[0]?.id]);
});

it("rejects writes and reads with BackendUnavailableError while the server is unreachable, and goes on once it is back", async () => {
  const { proxy, store, reader, ingestor, commit } = await faultyStore();
  const before = kitEntry(ingestor, 1, 0);
  await store.write(before);
  await commit(1);
  proxy.down();
  const during = kitEntry(ingestor, 1, 1);
  const [write, read] = await Promise.all([
    outcome(store.write(during)),
    outcome(store.getTransaction(new TextEncoder().encode(before.id))),
  ]);
  expect(isUnavailable(write), JSON.stringify(write)).toBe(true);
  expect(String((write as { error: unknown }).error)).toMatch(/cannot reach mongodb:\/\/.*into .*\.tidemark_history/);
  expect(isUnavailable(read), String((read as { error?: unknown }).error)).toBe(true);
  // Now no server is selectable at all (not a connection dropped under a request): still an outage.
  const again = await outcome(store.write(during));
  expect(isUnavailable(again), String((again as { error?: unknown }).error)).toBe(true);
  proxy.resume();
  await retrying(() => store.write(during));
  expect(ids(await retrying(() => store.getAccountHistory(`${ingestor}-a`)))).toEqual(ids([before, during]));
  expect(ids(await reader.getAccountHistory(`${ingestor}-a`))).toEqual(ids([before, during]));
});

/** The server the restart case uses, and how to restart it. */
interface Restartable {
  readonly uri: string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

let restartable: Restartable;
beforeAll(async () => {
  if (inject("mongodbLocal")) {
    // A real restart: the H2 backend reopens the same file on the same port.
    const server = await startMongoJavaServer({ backend: "h2" });
    restartable = {
      uri: server.uri,
      restart: async () => {
        await server.stop({ signal: "SIGKILL" });
        await server.start();
      },
      close: () => server.close(),
    };
  } else {
    // An external server cannot be restarted from here: every connection is cut and refused for a while.
    const { proxy, uri: proxied } = await proxyFor(uri);
    restartable = {
      uri: proxied,
      restart: async () => {
        proxy.down();
        await sleep(1000);
        proxy.resume();
      },
      close: () => proxy.close(),
    };
  }
});
afterAll(async () => {
  await restartable?.close();
});

it("keeps entries written before a server restart; they become visible once committed", async () => {
  const client = openClient(restartable.uri, { serverSelectionTimeoutMS: 1000 });
  const { store, ingestor, commit } = historyStore(client);
  stores.push(store);
  const entries = [1, 2, 3].flatMap((block) => [kitEntry(ingestor, block, 0), kitEntry(ingestor, block, 1, ["b"])]);
  await Promise.all(entries.map((entry) => store.write(entry)));
  await commit(1);

  await restartable.restart();

  const history = () => retrying(() => store.getBlockRange(pointerFromNumber(1), pointerFromNumber(3)));
  expect(ids(await history()), "only block 1 is committed").toEqual(ids(entries.slice(0, 2)));
  await retrying(() => commit(3));
  expect(ids(await history())).toEqual(ids(entries));
  expect(ids(await store.getAccountHistory(`${ingestor}-b`))).toEqual(ids(entries.filter((e) => e.index === 1)));
  // Written again after the restart, as a new holder would: nothing is added.
  await retrying(() => Promise.all(entries.map((entry) => store.write(entry))));
  expect(await client.db().collection("tidemark_history").countDocuments({ "_id.i": ingestor })).toBe(entries.length);
});
