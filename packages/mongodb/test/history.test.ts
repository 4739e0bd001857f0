import { type KitEntry, kitCodec, uniqueName } from "@tidemark/conformance";
import {
  CorruptRecordError,
  DoubleInsertError,
  type HistoryCodec,
  InvalidArgumentError,
  isTidemarkError,
  pointerFromNumber,
} from "@tidemark/core";
import { Binary, type CommandStartedEvent } from "mongodb";
import { afterAll, describe, expect, inject, it } from "vitest";
import { HISTORY_INDEXES } from "../src/index.js";
import { openClient } from "./support/clients.js";
import { historyStore, idOf, ids, kitEntry, outcome } from "./support/history.js";
import { proxyFor } from "./support/proxy.js";

const uri = inject("mongodbUri");
const client = openClient();
const inspector = openClient();
const raw = (collection = "tidemark_history") =>
  inspector.db().collection<{ _id: unknown; [field: string]: unknown }>(collection);
const stores: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
});
function track<T extends { store: { close(): Promise<void> } }>(opened: T): T {
  stores.push(opened.store);
  return opened;
}

/** Inserts sent by `monitored`, as the server received them. */
const inserts: CommandStartedEvent[] = [];
const monitored = openClient(uri, { monitorCommands: true });
monitored.on("commandStarted", (event) => {
  if (event.commandName === "insert") inserts.push(event);
});

describe("ordering", () => {
  // Entries of a chain whose pointers and ordering keys have different lengths: byte order, a shorter
  // prefix first, is not BinData order (length first). Blocks and keys are given as bytes.
  interface Entry {
    readonly id: string;
    readonly block: number[];
    readonly key: number[];
    readonly accounts: string[];
  }
  const codec: HistoryCodec<Entry> = {
    transactionId: (entry) => new TextEncoder().encode(entry.id),
    accounts: (entry) => entry.accounts,
    orderingKey: (entry) => Uint8Array.from(entry.key),
    block: (entry) => Uint8Array.from(entry.block),
    encode: (entry) => new TextEncoder().encode(JSON.stringify(entry)),
    decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) as Entry,
  };

  it("the server orders BinData by length first, so a shorter pointer would wrongly sort first", async () => {
    const collection = raw(uniqueName("bindata-order"));
    await collection.insertMany([
      { _id: "short", p: new Binary(Uint8Array.of(2)) },
      { _id: "long", p: new Binary(Uint8Array.of(1, 0xff, 0xff)) },
    ]);
    const atOrBelow = await collection.find({ p: { $lte: new Binary(Uint8Array.of(1, 0xff, 0xff)) } }).toArray();
    expect(atOrBelow.map((document) => document._id).sort()).toEqual(["long", "short"]);
    await collection.drop();
  });

  it("compares blocks, cursors and ranges in byte order, a shorter prefix first, whatever their lengths", async () => {
    const { store, ingestor, commit } = track(historyStore<Entry>(client, { codec }));
    const entry = (id: string, block: number[], key: number[]): Entry => ({
      id: `${ingestor}-${id}`,
      block,
      key,
      accounts: [`${ingestor}-a`],
    });
    const a = entry("a", [1], [1]);
    const b = entry("b", [1, 0], [1, 0]);
    const c = entry("c", [1, 0xff], [1, 0xff, 0]);
    const d = entry("d", [2], [2]);
    const e = entry("e", [2, 0, 0], [3]);
    await Promise.all([e, d, c, b, a].map((x) => store.write(x)));
    const account = `${ingestor}-a`;

    await commit(Uint8Array.of(1, 0xff, 0xff));
    // [2] is above [1, ff, ff] in byte order, though shorter.
    expect(ids(await store.getAccountHistory(account))).toEqual(ids([a, b, c]));
    expect(ids(await store.getAccountHistory(account, { order: "desc" }))).toEqual(ids([c, b, a]));
    expect(await store.getTransaction(new TextEncoder().encode(d.id))).toBeNull();
    expect(ids(await store.getBlockRange(Uint8Array.of(1, 0), Uint8Array.of(2)))).toEqual(ids([b, c]));

    await commit(Uint8Array.of(3));
    expect(ids(await store.getAccountHistory(account))).toEqual(ids([a, b, c, d, e]));
    expect(ids(await store.getAccountHistory(account, { cursor: Uint8Array.of(1) }))).toEqual(ids([b, c, d, e]));
    expect(ids(await store.getAccountHistory(account, { cursor: Uint8Array.of(1, 0xff), limit: 2 }))).toEqual(
      ids([c, d]),
    );
    expect(ids(await store.getAccountHistory(account, { order: "desc", cursor: Uint8Array.of(2) }))).toEqual(
      ids([c, b, a]),
    );
    expect(ids(await store.getBlockRange(Uint8Array.of(1, 0), Uint8Array.of(2)))).toEqual(ids([b, c, d]));
    expect(ids(await store.getBlockRange(Uint8Array.of(1, 0xff, 0), Uint8Array.of(2, 0)))).toEqual(ids([d]));
  });
});

describe("writes", () => {
  it("sends the writes of one turn as one unordered insertMany, and later turns separately", async () => {
    const { store, ingestor, commit } = track(historyStore(monitored));
    await store.ensureIndexes();
    const first = Array.from({ length: 50 }, (_, i) => kitEntry(ingestor, 1, i));
    const before = inserts.length;
    await Promise.all(first.map((entry) => store.write(entry)));
    const batch = inserts.slice(before);
    expect(batch.length, "insert commands for one turn").toBe(1);
    expect(batch[0]?.command.ordered).toBe(false);
    expect(batch[0]?.command.documents).toHaveLength(50);
    await store.write(kitEntry(ingestor, 2, 0));
    await store.write(kitEntry(ingestor, 2, 1));
    expect(inserts.length - before).toBe(3);
    await commit(2);
    expect((await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(2))).length).toBe(52);
  });

  it("splits a turn's writes into insert commands of at most batchSize documents", async () => {
    const { store, ingestor, commit } = track(historyStore(monitored, { batchSize: 20 }));
    await store.ensureIndexes();
    const before = inserts.length;
    const entries = Array.from({ length: 50 }, (_, i) => kitEntry(ingestor, 1, i));
    await Promise.all(entries.map((entry) => store.write(entry)));
    const sizes = inserts.slice(before).map((event) => (event.command.documents as unknown[]).length);
    expect(sizes.sort((a, b) => b - a)).toEqual([20, 20, 10]);
    await commit(1);
    expect(ids(await store.getAccountHistory(`${ingestor}-a`))).toEqual(ids(entries));
  });

  it("settles already-stored transactions of a batch one by one, and the rest of the batch lands", async () => {
    const { store, ingestor, commit } = track(historyStore(client));
    const stored = kitEntry(ingestor, 1, 0);
    const kept = kitEntry(ingestor, 1, 1, ["a"], { revision: 3 });
    await Promise.all([store.write(stored), store.write(kept)]);
    const fresh = [kitEntry(ingestor, 2, 0), kitEntry(ingestor, 2, 1)];
    const newer = { ...stored, revision: 1 };
    const older = { ...kept, revision: 2 };
    const contradicting = { ...kept, payload: "another payload", accounts: [`${ingestor}-z`] };
    const results = await Promise.all(
      [fresh[0], newer, older, contradicting, fresh[1]].map((entry) => outcome(store.write(entry as KitEntry))),
    );
    expect(results.map((result) => ("error" in result ? "rejected" : "resolved"))).toEqual([
      "resolved",
      "resolved",
      "resolved",
      "rejected",
      "resolved",
    ]);
    const refusal = (results[3] as { error: unknown }).error;
    expect(isTidemarkError(refusal, DoubleInsertError), String(refusal)).toBe(true);
    expect(String(refusal)).toContain(`${ingestor}-1-1`);
    expect(String(refusal)).toContain("tidemark_history");
    await commit(2);
    expect(await store.getTransaction(idOf(stored))).toEqual(newer);
    expect(await store.getTransaction(idOf(kept))).toEqual(kept);
    expect(await store.getAccountHistory(`${ingestor}-z`)).toEqual([]);
    expect(ids(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(2)))).toEqual(
      ids([stored, kept, ...fresh]),
    );
  });

  it("replaces only the version it judged: a version stored meanwhile is judged again, not overwritten", async () => {
    const { proxy, uri: proxied } = await proxyFor(uri);
    try {
      const stalled = openClient(proxied);
      let judged = 0;
      const stallOnFirstJudgement: HistoryCodec<KitEntry> = {
        ...kitCodec,
        reconcile(stored, incoming) {
          // Between the store's read and its replacement: hold its traffic while another writer gets in.
          if (judged++ === 0) proxy.stall();
          return kitCodec.reconcile?.(stored, incoming) ?? "keep";
        },
      };
      const { store, ingestor, commit } = track(historyStore(stalled, { codec: stallOnFirstJudgement }));
      const first = kitEntry(ingestor, 1, 0);
      await store.write(first);
      const writing = store.write({ ...first, revision: 1 });
      while (judged === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const latest = { ...first, revision: 2 };
      const other = track(historyStore(client, { ingestor }));
      await other.store.write(latest);
      proxy.resume();
      await writing;
      expect(judged, "the stale replacement matched nothing and the store judged again").toBe(2);
      await commit(1);
      expect(await store.getTransaction(idOf(first))).toEqual(latest);
    } finally {
      await proxy.close();
    }
  });

  it("never sends a write aborted before its batch, and rejects it with the reason", async () => {
    const { store, ingestor, commit } = track(historyStore(monitored));
    await store.ensureIndexes();
    const before = inserts.length;
    const controller = new AbortController();
    const doomed = kitEntry(ingestor, 1, 0, ["a", "b"]);
    const kept = kitEntry(ingestor, 1, 1);
    const writes = [outcome(store.write(doomed, { signal: controller.signal })), outcome(store.write(kept))];
    const reason = new Error("stop");
    controller.abort(reason);
    const [aborted, landed] = await Promise.all(writes);
    expect(aborted).toEqual({ error: reason });
    expect(landed).toEqual({ value: undefined });
    const sent = inserts.slice(before).flatMap((event) => event.command.documents as { _id: { t: Binary } }[]);
    expect(sent.map((document) => Buffer.from(document._id.t.value()).toString())).toEqual([kept.id]);
    await commit(1);
    expect(await store.getTransaction(idOf(doomed))).toBeNull();
    expect(await raw().countDocuments({ "_id.i": ingestor })).toBe(1);
  });

  it("refuses an entry too large for one document alone, with InvalidArgumentError", async () => {
    const { store, ingestor, commit } = track(historyStore(client));
    const huge = kitEntry(ingestor, 1, 0, ["a"], { payload: "x".repeat(16 * 1024 * 1024) });
    const small = kitEntry(ingestor, 1, 1);
    const [refused, landed] = await Promise.all([outcome(store.write(huge)), outcome(store.write(small))]);
    const error = (refused as { error: unknown }).error;
    expect(isTidemarkError(error, InvalidArgumentError), String(error)).toBe(true);
    expect(String(error)).toMatch(/transaction [0-9a-f]+ of ".*" needs a \d+-byte document/);
    expect(landed).toEqual({ value: undefined });
    await commit(1);
    expect(ids(await store.getAccountHistory(`${ingestor}-a`))).toEqual([small.id]);
  });
});

describe("stored data", () => {
  it("reports an entry that does not decode as CorruptRecordError naming the collection and id, and keeps it", async () => {
    const { store, ingestor, commit } = track(historyStore(client));
    const planted = kitEntry(ingestor, 1, 0);
    const _id = { i: ingestor, t: new Binary(idOf(planted)) };
    await raw().insertOne({
      _id,
      block: "0000000000000001",
      key: "000000000000000100000000",
      entry: new Binary(new TextEncoder().encode("not json")),
      accounts: [`${ingestor}-a`],
    });
    await commit(1);
    const hex = Buffer.from(idOf(planted)).toString("hex");
    for (const read of [
      () => store.getTransaction(idOf(planted)),
      () => store.getAccountHistory(`${ingestor}-a`),
      () => store.getBlockRange(pointerFromNumber(1), pointerFromNumber(1)),
      () => store.write(planted),
    ]) {
      const error = await read().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isTidemarkError(error, CorruptRecordError), String(error)).toBe(true);
      expect(String(error)).toContain(`entry ${hex} of "${ingestor}"`);
      expect(String(error)).toContain(`.tidemark_history`);
    }
    const kept = (await raw().findOne({ _id })) as { entry: Binary } | null;
    expect(kept && Buffer.from(kept.entry.value()).toString()).toBe("not json");
  });

  it("refuses a collection of other documents with CorruptRecordError naming it, writing nothing", async () => {
    const name = uniqueName("not-history");
    await raw(name).insertOne({ _id: "history_KIN4", latest: new Binary(Uint8Array.of(1)) });
    const { store, ingestor } = track(historyStore(client, { collection: name }));
    for (const attempt of [
      () => store.write(kitEntry(ingestor, 1, 0)),
      () => store.getAccountHistory("a"),
      () => store.ensureIndexes(),
    ]) {
      const error = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isTidemarkError(error, CorruptRecordError), String(error)).toBe(true);
      expect(String(error)).toContain(`.${name} is not a tidemark history collection`);
      expect(String(error)).toContain("_id the string");
    }
    expect(await raw(name).countDocuments()).toBe(1);
    await raw(name).drop();
  });

  it("creates its two indexes on first use, idempotently, and none when told not to", async () => {
    const name = uniqueName("indexes");
    const indexNames = async () =>
      (await raw(name).listIndexes().toArray()).map((index) => index.name as string).sort();
    const skipping = track(historyStore(client, { collection: name, createIndexes: false }));
    await skipping.store.write(kitEntry(skipping.ingestor, 1, 0));
    expect(await indexNames()).toEqual(["_id_"]);
    const { store, ingestor, commit } = track(historyStore(client, { collection: name }));
    await store.write(kitEntry(ingestor, 1, 0));
    await track(historyStore(client, { collection: name })).store.ensureIndexes();
    expect(await indexNames()).toEqual(["_id_", ...HISTORY_INDEXES.map((index) => index.name as string)].sort());
    const keys = (await raw(name).listIndexes().toArray()).map((index) => index.key);
    expect(keys).toContainEqual({ "_id.i": 1, accounts: 1, key: 1, "_id.t": 1 });
    expect(keys).toContainEqual({ "_id.i": 1, block: 1, key: 1 });
    await commit(1);
    expect(ids(await store.getAccountHistory(`${ingestor}-a`))).toEqual([`${ingestor}-1-0`]);
    await raw(name).drop();
  });

  it("stores one document per transaction: the layout the README describes", async () => {
    const { store, ingestor } = track(historyStore(client));
    const entry = kitEntry(ingestor, 7, 2, ["a", "b", "a"]);
    await store.write(entry);
    const document = await raw().findOne({ "_id.i": ingestor });
    expect(document).toEqual({
      _id: { i: ingestor, t: new Binary(idOf(entry)) },
      block: "0000000000000007",
      key: "000000000000000700000002",
      entry: new Binary(kitCodec.encode(entry)),
      accounts: [`${ingestor}-a`, `${ingestor}-b`],
    });
  });
});

describe("close", () => {
  it("sends pending writes first, is idempotent, refuses later calls and leaves the client open", async () => {
    const own = openClient();
    const { store, ingestor, commit } = historyStore(own);
    const entries = [kitEntry(ingestor, 1, 0), kitEntry(ingestor, 1, 1), kitEntry(ingestor, 2, 0)];
    const writes = entries.map((entry) => store.write(entry));
    await store.close();
    await expect(Promise.all(writes)).resolves.toEqual([undefined, undefined, undefined]);
    await store.close();
    expect(await own.db().collection("tidemark_history").countDocuments({ "_id.i": ingestor })).toBe(3);
    await expect(store.write(kitEntry(ingestor, 3, 0))).rejects.toThrow(InvalidArgumentError);
    await expect(store.getTransaction(idOf(entries[0] as KitEntry))).rejects.toThrow(/getTransaction\(\) after close/);
    await commit(2);
    const reopened = track(historyStore(own, { ingestor }));
    expect(ids(await reopened.store.getBlockRange(pointerFromNumber(1), pointerFromNumber(2)))).toEqual(ids(entries));
  });
});
