import type { HistoryCodec, Pointer } from "@tidemark/core";
import type { PostgresConnectionOptions } from "./connection.js";
import type { HistoryTableNames } from "./history-schema.js";

/** Options of {@link PostgresHistoryStore}. */
export interface PostgresHistoryStoreOptions<E> extends PostgresConnectionOptions, HistoryTableNames {
  /** Tells the store how to identify, index, order and serialise entries (e.g. `kinHistoryCodec` from `@tidemark/kin`). */
  readonly codec: HistoryCodec<E>;
  /** The ingestor whose entries the store writes and whose committed pointer bounds what readers see (e.g. `history_KIN4`). */
  readonly ingestor: string;
  /**
   * The committer's table in the same database (default `tidemark_commits`):
   * every read compares with its `latest` in the same statement.
   */
  readonly commitTable?: string;
  /**
   * Where the committed pointer comes from when commits live elsewhere (say,
   * an etcd committer). When set, it is called before every read and the
   * commit table is not used.
   */
  readonly committed?: (signal?: AbortSignal) => Promise<Pointer | null>;
  /**
   * Create the history tables on first use when they are missing (default
   * true). With false they are only checked; create them with
   * `createHistorySchema` or the SQL in the README.
   */
  readonly createTables?: boolean;
  /**
   * Most entries per INSERT statement (default 100). The writes of one turn
   * of the event loop beyond it go out as several statements at once, each on
   * its own pooled connection: blocks that finish in the same turn keep their
   * parallelism instead of queueing behind one long statement.
   */
  readonly batchSize?: number;
}
