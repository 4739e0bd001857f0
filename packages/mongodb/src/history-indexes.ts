import { ConfigurationError } from "@tidemark/core";
import type { Collection, IndexDescription } from "mongodb";
import { type MongoTarget, mongoCall } from "./errors.js";
import { checkHistoryShape, type HistoryDocument, SIMPLE_COLLATION } from "./history-records.js";

/**
 * The secondary indexes of a history collection. The account index is
 * multikey (one key per account of an entry) and ends with the transaction id,
 * the tie-break of entries with equal ordering keys, so an account's page is
 * read in index order. Block ranges use the second.
 */
export const HISTORY_INDEXES: readonly IndexDescription[] = [
  {
    name: "tidemark_history_accounts",
    key: { "_id.i": 1, accounts: 1, key: 1, "_id.t": 1 },
    collation: SIMPLE_COLLATION,
  },
  { name: "tidemark_history_blocks", key: { "_id.i": 1, block: 1, key: 1 }, collation: SIMPLE_COLLATION },
];

/** An index of that name exists with other keys or options (IndexOptionsConflict, IndexKeySpecsConflict). */
const INDEX_CONFLICT_CODES = new Set([85, 86]);

/**
 * What a store does before its first request: checks that the collection holds
 * history documents (any one of them) and creates the indexes, which is a
 * no-op when they exist.
 */
export async function prepareHistoryCollection(
  collection: Collection<HistoryDocument>,
  namespace: string,
  target: MongoTarget,
  createIndexes: boolean,
): Promise<void> {
  const sample = await mongoCall(`checking the documents of ${namespace}`, target, undefined, () =>
    collection.findOne({}),
  );
  checkHistoryShape(sample, namespace);
  if (!createIndexes) return;
  try {
    await mongoCall(`creating the indexes of ${namespace}`, target, undefined, () =>
      collection.createIndexes([...HISTORY_INDEXES]),
    );
  } catch (error) {
    const code = ((error as Error).cause as { code?: unknown } | undefined)?.code;
    if (typeof code !== "number" || !INDEX_CONFLICT_CODES.has(code)) throw error;
    throw new ConfigurationError(
      `mongodb: ${namespace} has an index named like tidemark's (${HISTORY_INDEXES.map((index) => index.name).join(", ")}) ` +
        `with other keys or options; drop it, or set createIndexes: false and create them yourself`,
      { cause: error },
    );
  }
}
