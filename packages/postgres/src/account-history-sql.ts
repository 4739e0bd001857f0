/** What one account-history statement needs: quoted table names, the committed bound, and its shape. */
export interface AccountHistorySqlOptions {
  /** The entry table, quoted. */
  readonly history: string;
  /** The account table, quoted. */
  readonly accounts: string;
  /** An SQL expression for the committed pointer (a parameter or a subquery). */
  readonly committed: string;
  /** Conditions on `h.block` that leave out hidden ranges (default none). */
  readonly hidden?: string;
  readonly order: "ASC" | "DESC";
  /** Continue after (ASC) or before (DESC) `$4`. */
  readonly withCursor: boolean;
}

/**
 * The SQL of one page of an account's committed history; parameters `$1`
 * ingestor, `$2` account, `$3` limit and, `withCursor`, `$4` the cursor.
 *
 * The plan wanted is the account table's primary key read in the page's
 * order from the cursor, one primary-key lookup of the entry per account row,
 * and a stop at the limit, whatever the statistics say. A plain join lets the
 * planner choose otherwise: before ANALYZE it looked each entry up through the
 * block index (a range scan per row), after ANALYZE it hash-joined both tables
 * whole and sorted. So the entry is a LATERAL subquery (only a nested loop can
 * run it); inside it, OFFSET 0 keeps the block and ordering-key conditions out
 * of the lookup, leaving the primary key as the only index that fits, and
 * LIMIT 1 keeps them inside, so the planner counts one entry per account row
 * and expects the page to end after about `limit` of them.
 * With and without a cursor are separate statements, so the cursor is always
 * an index condition (an `$4 IS NULL OR …` would not be).
 */
export function accountHistorySql({
  history,
  accounts,
  committed,
  hidden = "",
  order,
  withCursor,
}: AccountHistorySqlOptions): string {
  const after = withCursor ? `AND a.ordering_key ${order === "ASC" ? ">" : "<"} $4` : "";
  // The ordering key is compared too: a listing left by an entry's older version never shows.
  return `SELECT e.tx_id, e.entry FROM ${accounts} a
    CROSS JOIN LATERAL (
      SELECT h.tx_id, h.entry FROM (
        SELECT tx_id, block, ordering_key, entry FROM ${history}
        WHERE ingestor = a.ingestor AND tx_id = a.tx_id OFFSET 0
      ) h
      WHERE h.block <= ${committed}${hidden} AND h.ordering_key = a.ordering_key
      LIMIT 1
    ) e
    WHERE a.ingestor = $1 AND a.account = $2 ${after}
    ORDER BY a.ordering_key ${order}, a.tx_id ${order} LIMIT $3`;
}
