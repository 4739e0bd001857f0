import type { HistoryCodec, Pointer, Visibility } from "@tidemark/core";
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
   * Instead of `committed`, when several ingestors commit parts of this
   * history (a backfill's partitions next to the live ingestor): which blocks
   * readers may see, called before every read (`visibilityOf` in
   * `@tidemark/core` builds it). With nothing hidden the statements are those
   * of `committed`; each hidden range adds one condition and two parameters.
   */
  readonly visibility?: (signal?: AbortSignal) => Promise<Visibility>;
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
