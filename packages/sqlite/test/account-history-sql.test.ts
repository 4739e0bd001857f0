import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { accountHistorySql } from "../src/account-history-sql.js";
import { hiddenRangesSql } from "../src/hidden-ranges-sql.js";
import { createCommitTable, createHistoryTables } from "../src/schema.js";

// The query plan decides whether a page costs its 100 rows or the account's whole history.
const hiddenParameters = {
  committed: new Uint8Array([9]),
  hidden_through_0: new Uint8Array([1]),
  hidden_after_1: new Uint8Array([3]),
  hidden_through_1: new Uint8Array([5]),
};

describe("account history SQL", () => {
  const db = new DatabaseSync(":memory:");
  createHistoryTables(db, "h", "a");
  createCommitTable(db, "c");
  // `shape`: hidden ranges (a backfill's visibility) next to a committed pointer given as a parameter.
  const plan = (order: "ASC" | "DESC", withCursor: boolean, shape?: string) =>
    (
      db
        .prepare(
          `EXPLAIN QUERY PLAN ${accountHistorySql({
            history: "h",
            accounts: "a",
            committed: shape === undefined ? "(SELECT latest FROM c WHERE ingestor = :ingestor)" : ":committed",
            hidden: hiddenRangesSql("h.block", shape ?? ""),
            order,
            withCursor,
          })}`,
        )
        .all({
          ingestor: "i",
          account: "x",
          limit: 100,
          ...(withCursor ? { cursor: new Uint8Array([1]) } : {}),
          ...(shape === undefined ? {} : hiddenParameters),
        }) as {
        detail: string;
      }[]
    )
      .map((row) => row.detail)
      .join("\n");

  it.each(["ASC", "DESC"] as const)("%s with a cursor seeks the account index to the cursor", (order) => {
    expect(plan(order, true)).toMatch(
      /SEARCH a USING (PRIMARY KEY|.*INDEX .*) \(ingestor=\? AND account=\? AND ordering_key[<>]\?\)/,
    );
  });

  it.each(["ASC", "DESC"] as const)("%s without a cursor reads the account's index in order", (order) => {
    const text = plan(order, false);
    expect(text).toMatch(/SEARCH a USING (PRIMARY KEY|.*INDEX .*) \(ingestor=\? AND account=\?\)/);
    expect(text).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
  });

  it.each(["ASC", "DESC"] as const)("%s with hidden ranges still seeks the account index in order", (order) => {
    for (const withCursor of [false, true]) {
      const text = plan(order, withCursor, "na");
      expect(text).toMatch(
        withCursor
          ? /SEARCH a USING (PRIMARY KEY|.*INDEX .*) \(ingestor=\? AND account=\? AND ordering_key[<>]\?\)/
          : /SEARCH a USING (PRIMARY KEY|.*INDEX .*) \(ingestor=\? AND account=\?\)/,
      );
      expect(text).not.toMatch(/USE TEMP B-TREE FOR ORDER BY/);
    }
  });
});
