import type { Committer, DistributedLock, HistoryCodec, HistoryStore, Pointer, Visibility } from "@tidemark/core";
import { InvalidConfigError } from "../config-error.js";
import { lockRegistry } from "./lock-registry.js";
import { importAdapter } from "./optional-adapter.js";
import { redactUrl, type Store, type StoreOptions } from "./store.js";
import { parseStoreUrl } from "./store-url.js";

interface MongoAdapterModule {
  MongoCommitter: new (options: { client: unknown; database?: string }) => Committer;
  MongoLock: new (options: {
    client: unknown;
    database?: string;
    key: string;
    leaseMs?: number;
    owner?: string;
  }) => DistributedLock;
  MongoHistoryStore: new <E>(options: {
    client: unknown;
    database?: string;
    codec: HistoryCodec<E>;
    ingestor: string;
    committed?: (signal?: AbortSignal) => Promise<Pointer | null>;
    visibility?: (signal?: AbortSignal) => Promise<Visibility>;
  }) => HistoryStore<E> & { ensureIndexes(): Promise<void> };
}

/** What `new MongoClient(uri, options)` is given for a store URL, and the database of its collections. */
export interface MongoClientArguments {
  /** The URL without its user name and password, so no driver message can quote them. */
  readonly uri: string;
  readonly options: { auth?: { username: string; password: string }; serverSelectionTimeoutMS?: number };
  readonly database?: string;
}

/**
 * The driver's arguments for a `mongodb://` URL: the credentials, decoded,
 * go in `auth` (the driver's own decoding, which they replace, gives the
 * same), and a `serverSelectionTimeoutMS` in the URL wins over the default.
 */
export function mongoClientArguments(url: string, field = "--store"): MongoClientArguments {
  const parsed = parseStoreUrl(url, field);
  const path = parsed.tail.replace(/[?#].*$/, "");
  const database = path.length > 1 ? decodeURIComponent(path.slice(1)) : undefined;
  // The driver would refuse these only at the first request, after the service started.
  if (database !== undefined && /[/\\. "$*<>:|?]/.test(database)) {
    throw new InvalidConfigError(
      field,
      `MongoDB database name "${database}" holds a character MongoDB does not allow (/\\. "$*<>:|?)`,
    );
  }
  const timeoutInUrl = [...parsed.searchParams.keys()].some((key) => key.toLowerCase() === "serverselectiontimeoutms");
  return {
    uri: parsed.withoutUserinfo,
    options: {
      // The driver ignores a password without a user name; so does this.
      ...(parsed.username !== "" ? { auth: { username: parsed.username, password: parsed.password ?? "" } } : {}),
      ...(timeoutInUrl ? {} : { serverSelectionTimeoutMS: 10_000 }),
    },
    ...(database ? { database } : {}),
  };
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
  const { uri, options: clientOptions, database } = mongoClientArguments(url, options.field);
  const client = new driver.MongoClient(uri, clientOptions);
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
    openHistory: (ingestor, { codec, committed, visibility }) =>
      new adapter.MongoHistoryStore({
        client,
        ...(database ? { database } : {}),
        codec,
        ingestor,
        ...(visibility
          ? { visibility }
          : { committed: committed ?? ((signal) => committer.latest(ingestor, signal ? { signal } : {})) }),
        // A read-only command must not create indexes (nor so the collections) on its first read.
        ...(options.readOnly ? { createIndexes: false } : {}),
      }),
    async close() {
      await closeLocks();
      await committer.close();
      await client.close();
    },
  };
}
