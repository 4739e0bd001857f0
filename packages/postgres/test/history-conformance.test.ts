import { describeHistoryStore } from "@tidemark/conformance";
import { afterAll, beforeAll } from "vitest";
import { PostgresHistoryStore } from "../src/index.js";
import { COMMITS, commitPointer, createCommitTable, openPool, url } from "./history-support.js";

// The kit's history cases against the suite's server. Every store opens a pool of its own, as a node
// of a fleet would; the operator's pool moves the committed pointers.
const operator = openPool();
beforeAll(() => createCommitTable(operator));
afterAll(() => operator.end());

const commit = (ingestor: string, block: Uint8Array) => commitPointer(operator, ingestor, block);

describeHistoryStore("postgres (pointer joined in each statement)", {
  create: ({ ingestor, codec }) =>
    new PostgresHistoryStore({ connectionString: url, codec, ingestor, commitTable: COMMITS }),
  commit,
  // Far below bytea's 1 GB, yet several protocol messages' worth of one entry.
  largestEntryBytes: 4 * 1024 * 1024,
  manyAccounts: 500,
});

describeHistoryStore("postgres (pointer from `committed`)", {
  create: ({ ingestor, codec }) =>
    new PostgresHistoryStore({
      connectionString: url,
      codec,
      ingestor,
      committed: async () => {
        const { rows } = await operator.query<{ latest: Buffer | null }>(
          `SELECT latest FROM ${COMMITS} WHERE ingestor = $1`,
          [ingestor],
        );
        return rows[0]?.latest ?? null;
      },
    }),
  commit,
  largestEntryBytes: 4 * 1024 * 1024,
  manyAccounts: 500,
});
