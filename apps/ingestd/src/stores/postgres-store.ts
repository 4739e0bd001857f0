import type { Committer, DistributedLock, HistoryCodec, HistoryStore, Pointer, Visibility } from "@tidemark/core";
import { lockRegistry } from "./lock-registry.js";
import { importAdapter } from "./optional-adapter.js";
import { redactUrl, type Store, type StoreOptions } from "./store.js";

interface PgModule {
  default: {
    Pool: new (config: {
      connectionString: string;
    }) => {
      end(): Promise<void>;
      on(event: "error", listener: (error: Error) => void): unknown;
    };
  };
}

interface PostgresModule {
  PostgresCommitter: new (options: { pool: unknown }) => Committer;
  PostgresLock: new (options: { pool: unknown; key: string; leaseMs?: number; owner?: string }) => DistributedLock;
  PostgresHistoryStore: new <E>(options: {
    pool: unknown;
    codec: HistoryCodec<E>;
    ingestor: string;
    committed?: (signal?: AbortSignal) => Promise<Pointer | null>;
    visibility?: (signal?: AbortSignal) => Promise<Visibility>;
  }) => HistoryStore<E>;
  createSchema(pool: unknown): Promise<void>;
  createHistorySchema(pool: unknown): Promise<void>;
}

/**
 * `postgres://user:password@host:port/database` (or `postgresql://`): commits,
 * the lock and the history in one PostgreSQL database, via @tidemark/postgres
 * and the user's `pg` driver. Reads join the committed pointer in the same
 * statement unless the commits live in another store.
 */
export async function openPostgresStore(url: string, options: StoreOptions): Promise<Store> {
  const label = redactUrl(url);
  // The driver first: an adapter installed without its peer would otherwise fail to load naming only the adapter.
  const pg = await importAdapter<PgModule>("pg", label);
  const adapter = await importAdapter<PostgresModule>("@tidemark/postgres", label);
  const pool = new pg.default.Pool({ connectionString: url });
  // An idle connection dropped by the server (a restart) is reported on the pool; without a listener
  // it would crash the process. The next query opens a new connection, and its failure is what counts.
  pool.on("error", () => {});
  const committer = new adapter.PostgresCommitter({ pool });
  const { createLock, closeLocks } = lockRegistry(
    options,
    (settings) => new adapter.PostgresLock({ pool, ...settings }),
  );
  return {
    label,
    committer,
    createLock,
    openHistory: (ingestor, { codec, committed, visibility }) =>
      new adapter.PostgresHistoryStore({
        pool,
        codec,
        ingestor,
        ...(committed ? { committed } : {}),
        ...(visibility ? { visibility } : {}),
        // A read-only command must not create tables on its first read.
        ...(options.readOnly ? { createTables: false } : {}),
      }),
    init: async () => {
      await adapter.createSchema(pool);
      await adapter.createHistorySchema(pool);
    },
    async close() {
      await closeLocks();
      await committer.close();
      await pool.end();
    },
  };
}
