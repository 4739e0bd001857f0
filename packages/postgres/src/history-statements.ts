/** One entry as the tables store it. */
export interface HistoryRow {
  readonly id: Buffer;
  readonly block: Buffer;
  readonly key: Buffer;
  readonly bytes: Buffer;
  /** Without duplicates. */
  readonly accounts: readonly string[];
}

export interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

/** PostgreSQL takes at most 65 535 parameters per statement; batches stay well below. */
export const MAX_PARAMETERS = 30_000;

/** The parameters `insertRows` needs for `row`. */
export function parametersOf(row: HistoryRow): number {
  return 4 + row.accounts.length;
}

/**
 * One statement that inserts `rows` (sorted by transaction id, so that
 * concurrent writers wait on each other in one order and cannot deadlock)
 * unless their transaction is stored, and the account rows of exactly those
 * it inserted, returning their ids. One statement is one transaction: an entry
 * and its account rows land together or not at all, in one round trip.
 */
export function insertRows(
  history: string,
  accounts: string,
  ingestor: string,
  rows: readonly HistoryRow[],
): Statement {
  const values: unknown[] = [ingestor];
  const entries: string[] = [];
  const listed: string[] = [];
  for (const row of rows) {
    const at = values.length;
    values.push(row.id, row.block, row.key, row.bytes);
    entries.push(`($1, $${at + 1}, $${at + 2}, $${at + 3}, $${at + 4})`);
    for (const account of row.accounts) {
      values.push(account);
      // The entry's id and key parameters again: an account row costs one parameter.
      listed.push(`($${values.length}::text, $${at + 3}::bytea, $${at + 1}::bytea)`);
    }
  }
  const insert = `INSERT INTO ${history} (ingestor, tx_id, block, ordering_key, entry) VALUES ${entries.join(", ")}
    ON CONFLICT DO NOTHING RETURNING tx_id`;
  if (listed.length === 0) return { text: insert, values };
  return {
    text: `WITH inserted AS (${insert}),
      listed AS (INSERT INTO ${accounts} (ingestor, account, ordering_key, tx_id)
        SELECT $1, v.account, v.ordering_key, v.tx_id FROM (VALUES ${listed.join(", ")}) AS v(account, ordering_key, tx_id)
        WHERE v.tx_id IN (SELECT tx_id FROM inserted)
        ON CONFLICT DO NOTHING)
      SELECT tx_id FROM inserted`,
    values,
  };
}

/** The account rows of one entry, for a replacement. */
export function insertAccounts(accounts: string, ingestor: string, row: HistoryRow): Statement {
  const values: unknown[] = [ingestor, row.key, row.id, ...row.accounts];
  const listed = row.accounts.map((_, i) => `($1, $${i + 4}, $2, $3)`);
  return {
    text: `INSERT INTO ${accounts} (ingestor, account, ordering_key, tx_id) VALUES ${listed.join(", ")}
      ON CONFLICT DO NOTHING`,
    values,
  };
}
