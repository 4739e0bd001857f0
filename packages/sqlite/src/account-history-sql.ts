/** What one account-history statement needs: table names, the committed bound, and its shape. */
export interface AccountHistorySqlOptions {
  readonly history: string;
  readonly accounts: string;
  /** An SQL expression for the committed pointer (a parameter or a subquery). */
  readonly committed: string;
  /** Conditions on `h.block` that leave out hidden ranges (default none). */
  readonly hidden?: string;
  readonly order: "ASC" | "DESC";
  /** Continue after (ASC) or before (DESC) `:cursor`. */
  readonly withCursor: boolean;
}

/**
 * The SQL of one page of an account's committed history. Pages with and
 * without a cursor are separate statements: a `(:cursor IS NULL OR …)`
 * condition keeps SQLite from seeking the account index to the cursor, so
 * every page would scan the account's whole history.
 */
export function accountHistorySql({
  history,
  accounts,
  committed,
  hidden = "",
  order,
  withCursor,
}: AccountHistorySqlOptions): string {
  const after = withCursor ? `AND a.ordering_key ${order === "ASC" ? ">" : "<"} :cursor` : "";
  return `SELECT h.entry FROM ${accounts} a
    JOIN ${history} h ON h.ingestor = a.ingestor AND h.tx_id = a.tx_id
    WHERE a.ingestor = :ingestor AND a.account = :account AND h.block <= ${committed}${hidden} ${after}
    ORDER BY a.ordering_key ${order}, a.tx_id ${order} LIMIT :limit`;
}
