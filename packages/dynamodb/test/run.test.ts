// The parts together: core's `run` following a synthetic chain with this package's lock and committer.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { uniqueName } from "@tidemark/conformance";
import { pointerFromNumber, pointerToBigInt, run, SequenceIngestor } from "@tidemark/core";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoDbCommitter, DynamoDbLock } from "../src/index.js";
import { freshTables, newClient } from "./support.js";

let tables: { commits: string; locks: string };
beforeAll(async () => {
  tables = await freshTables(newClient());
});

/** One node: its own client, lock and committer, following `ingestor` until `until`. */
function node(ingestor: string, until: number, coalesce: boolean, written: Map<bigint, number>) {
  const client: DynamoDBClient = newClient();
  return run({
    signal: AbortSignal.timeout(60_000),
    lock: new DynamoDbLock({ client, key: ingestor, table: tables.locks, leaseMs: 900, pollMs: 50 }),
    committer: new DynamoDbCommitter({ client, table: tables.commits }),
    ingestor: new SequenceIngestor({ name: ingestor, concurrency: 4 }),
    writer: {
      write: async (entry) => {
        written.set(entry.block, (written.get(entry.block) ?? 0) + 1);
      },
    },
    until: pointerFromNumber(until),
    coalesce,
    lockRetryMs: 100,
  });
}

describe("run with the DynamoDB lock and committer", () => {
  for (const coalesce of [false, true]) {
    it(`two nodes ingest 150 blocks once, in order (coalescing ${coalesce ? "on" : "off"})`, async () => {
      const ingestor = uniqueName("run");
      const written = new Map<bigint, number>();
      await Promise.all([node(ingestor, 150, coalesce, written), node(ingestor, 150, coalesce, written)]);
      const committer = new DynamoDbCommitter({ client: newClient(), table: tables.commits });
      const latest = await committer.latest(ingestor);
      expect(latest && pointerToBigInt(latest)).toBe(150n);
      // Every block reached the writer (a restart may write one again: writers are idempotent).
      for (let block = 1n; block <= 150n; block++) expect(written.get(block), `block ${block}`).toBeGreaterThan(0);
    });
  }
});
