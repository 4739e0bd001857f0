import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { historyTableRefs } from "./history-layout.js";
import { DEFAULT_ACCOUNTS_TABLE, DEFAULT_HISTORY_TABLE, DEFAULT_TRANSACTIONS_TABLE } from "./options.js";
import { ensureTable } from "./tables.js";

export interface CreateHistoryTablesOptions {
  /** Entries by transaction id. Default `"tx-by-hash"`. */
  readonly table?: string;
  /** Entries by account. Default `"tx-by-account"`. */
  readonly accountTable?: string;
  /** The global history by block partition. Default `"tx-history"`. */
  readonly historyTable?: string;
  /** How long to wait for new tables to become ACTIVE, in ms (default 120 000). */
  readonly timeoutMs?: number;
  /** Aborting it stops waiting (tables already requested are still created by DynamoDB). */
  readonly signal?: AbortSignal;
}

/**
 * Creates the three history tables with agora v0.2.7's key schemas
 * (on-demand billing) and waits until they are ACTIVE: `tx-by-hash` (hash key
 * `tx_hash` B), `tx-by-account` (`account` S, range `ordering_key` B) and
 * `tx-history` (`block_start` N, range `ordering_key` B). Idempotent: an
 * existing table is checked, not changed; one with another key schema is a
 * `ConfigurationError`.
 */
export async function createHistoryTables(client: DynamoDBClient, options: CreateHistoryTablesOptions = {}) {
  const refs = historyTableRefs({
    table: options.table ?? DEFAULT_TRANSACTIONS_TABLE,
    accountTable: options.accountTable ?? DEFAULT_ACCOUNTS_TABLE,
    historyTable: options.historyTable ?? DEFAULT_HISTORY_TABLE,
  });
  const deadline = performance.now() + (options.timeoutMs ?? 120_000);
  for (const table of [refs.transactions, refs.accounts, refs.history]) {
    await ensureTable(client, table, deadline, options.signal);
  }
}
