import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { accountHistorySql } from "../src/account-history-sql.js";
import { createCommitTable, createHistoryTables } from "../src/schema.js";

// The query plan decides whether a page costs its 100 rows or the account's whole history.
describe("account history SQL", () => {
  const db = new DatabaseSync(":memory:");
  createHistoryTables(db, "h", "a");
  createCommitTable(db, "c");
  const plan = (order: "ASC" | "DESC", withCursor: boolean) =>
    (
      db
        .prepare(
          `EXPLAIN QUERY PLAN ${accountHistorySql({
            history: "h",
            accounts: "a",
            committed: "(SELECT latest FROM c WHERE ingestor = :ingestor)",
            order,
            withCursor,
          })}`,
        )
        .all({ ingestor: "i", account: "x", limit: 100, ...(withCursor ? { cursor: new Uint8Array([1]) } : {}) }) as {
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
});
