import type { Committer, DistributedLock, HistoryCodec, HistoryStore, Pointer } from "@tidemark/core";
import { type Entry, kinHistoryCodec } from "@tidemark/kin";
import { lockRegistry } from "./lock-registry.js";
import { importAdapter } from "./optional-adapter.js";
import { redactUrl, type Store, type StoreOptions } from "./store.js";

interface MongoAdapterModule {
  MongoCommitter: new (options: { client: unknown; database?: string }) => Committer;
  MongoLock: new (options: {
    client: unknown;
    database?: string;
    key: string;
    leaseMs?: number;
    owner?: string;
  }) => DistributedLock;
  MongoHistoryStore: new (options: {
    client: unknown;
    database?: string;
    codec: HistoryCodec<Entry>;
    ingestor: string;
    committed: (signal?: AbortSignal) => Promise<Pointer | null>;
  }) => HistoryStore<Entry> & { ensureIndexes(): Promise<void> };
}

interface MongoDriverModule {
  MongoClient: new (url: string, options?: Record<string, unknown>) => { close(): Promise<void> };
}

/**
 * `mongodb://…` or `mongodb+srv://…`: commits and locks in MongoDB via
 * @tidemark/mongodb and the user's `mongodb` driver. The URL's database (the
 * path) holds the collections; the default is the driver's.
 */
export async function openMongoDbStore(url: string, options: StoreOptions): Promise<Store> {
  const label = redactUrl(url);
  // The driver first: an adapter installed without its peer would otherwise fail to load naming only the adapter.
  const driver = await importAdapter<MongoDriverModule>("mongodb", label);
  const adapter = await importAdapter<MongoAdapterModule>("@tidemark/mongodb", label);
  const client = new driver.MongoClient(url, { serverSelectionTimeoutMS: 10_000 });
  const database = new URL(url.replace(/^mongodb(\+srv)?:/, "http:")).pathname.slice(1) || undefined;
  const committer = new adapter.MongoCommitter({ client, ...(database ? { database } : {}) });
  const { createLock, closeLocks } = lockRegistry(
    options,
    (settings) =>
      new adapter.MongoLock({
        client,
        ...(database ? { database } : {}),
        ...settings,
      }),
  );
  return {
    label,
    committer,
    createLock,
    openHistory: (ingestor, committed) =>
      new adapter.MongoHistoryStore({
        client,
        ...(database ? { database } : {}),
        codec: kinHistoryCodec,
        ingestor,
        committed: committed ?? ((signal) => committer.latest(ingestor, signal ? { signal } : {})),
      }),
    async close() {
      await closeLocks();
      await committer.close();
      await client.close();
    },
  };
}
