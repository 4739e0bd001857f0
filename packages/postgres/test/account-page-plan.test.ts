import { createHash } from "node:crypto";
import { uniqueName } from "@tidemark/conformance";
import { pointerFromNumber } from "@tidemark/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountHistorySql } from "../src/account-history-sql.js";
import { hiddenRangesSql } from "../src/hidden-ranges-sql.js";
import { createHistorySchema, historyTables } from "../src/history-schema.js";
import { COMMITS, commitPointer, createCommitTable, openPool } from "./history-support.js";

// The plan decides whether a page costs its 100 rows or the account's whole history. Enough rows for
// the planner to show its preferences: with the old join, 40 000 entries made it walk the block index
// per row before ANALYZE and hash-join both tables after.
const ENTRIES = 40_000;
// Entry i is in block i / 10; the last four blocks are written but not committed.
const COMMITTED_BLOCK = ENTRIES / 10 - 5;
const VISIBLE = (COMMITTED_BLOCK + 1) * 10;
const CURSOR_AT = ENTRIES / 2;
const LIMIT = 100;

const pool = openPool();
const table = uniqueName("plan").replaceAll("-", "_").toLowerCase();
const names = { table, accountTable: `${table}_acc` };
const { history, accounts } = historyTables(names);
const ingestor = uniqueName("plan");

/** The ordering key of entry i: its block (8 bytes) and its index in the block (4 bytes), as the SQL below builds it. */
function orderingKey(i: number): Buffer {
  const key = Buffer.alloc(12);
  key.writeBigUInt64BE(BigInt(Math.floor(i / 10)), 0);
  key.writeUInt32BE(i % 10, 8);
  return key;
}
const txId = (i: number) => createHash("sha224").update(pointerFromNumber(i)).digest();

beforeAll(async () => {
  await createCommitTable(pool);
  await createHistorySchema(pool, names);
  // "Before ANALYZE" must stay so while the tests run.
  await pool.query(`ALTER TABLE ${history} SET (autovacuum_enabled = false)`);
  await pool.query(`ALTER TABLE ${accounts} SET (autovacuum_enabled = false)`);
  await pool.query(
    `INSERT INTO ${history} (ingestor, tx_id, block, ordering_key, entry)
      SELECT $1, sha224(int8send(i)), int8send(i / 10), int8send(i / 10) || int4send(i % 10), repeat('x', 300)::bytea
      FROM generate_series(0, $2::int - 1) i`,
    [ingestor, ENTRIES],
  );
  // Every entry lists the account under test and one of a thousand others.
  await pool.query(
    `INSERT INTO ${accounts} (ingestor, account, ordering_key, tx_id)
      SELECT $1, account, int8send(i / 10) || int4send(i % 10), sha224(int8send(i))
      FROM generate_series(0, $2::int - 1) i, LATERAL (VALUES ('hot'), ('other-' || i % 1000)) v(account)`,
    [ingestor, ENTRIES],
  );
  await commitPointer(pool, ingestor, pointerFromNumber(COMMITTED_BLOCK));
});

afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${history}, ${accounts}`);
  await pool.query(`DELETE FROM ${COMMITS} WHERE ingestor = $1`, [ingestor]);
  await pool.end();
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  "Scan Direction"?: string;
  Plans?: PlanNode[];
}

function nodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodes)];
}

type Order = "ASC" | "DESC";
/**
 * Where the committed pointer comes from: the commit table in the statement, a parameter (the
 * `committed` option), or a parameter with hidden ranges (the `visibility` option of a backfill).
 */
type Bound = "table" | "parameter" | "hidden ranges";

function page(order: Order, withCursor: boolean, bound: Bound) {
  const values: unknown[] = [ingestor, "hot", LIMIT];
  if (withCursor) values.push(orderingKey(CURSOR_AT));
  let committed = `(SELECT latest FROM ${COMMITS} WHERE ingestor = $1)`;
  let hidden = "";
  if (bound !== "table") {
    const upTo = pointerFromNumber(COMMITTED_BLOCK);
    values.push(upTo);
    committed = `$${values.length}`;
    if (bound === "hidden ranges") {
      const ranges = [
        { after: null, through: pointerFromNumber(10) },
        { after: pointerFromNumber(CURSOR_AT / 10), through: pointerFromNumber(CURSOR_AT / 10 + 100) },
      ];
      hidden = hiddenRangesSql(ranges, upTo, values, "plan test")("h.block");
    }
  }
  // The same SQL the store runs.
  return { text: accountHistorySql({ history, accounts, committed, hidden, order, withCursor }), values };
}

async function plan(order: Order, withCursor: boolean, bound: Bound): Promise<PlanNode> {
  const { text, values } = page(order, withCursor, bound);
  const { rows } = await pool.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${text}`, values);
  return rows[0]?.["QUERY PLAN"][0].Plan as PlanNode;
}

/** The ids a page must return: committed entries only, in order, after (or before) the cursor. */
function expectedIds(order: Order, withCursor: boolean): string[] {
  const start = withCursor ? (order === "ASC" ? CURSOR_AT + 1 : CURSOR_AT - 1) : order === "ASC" ? 0 : VISIBLE - 1;
  const step = order === "ASC" ? 1 : -1;
  return Array.from({ length: LIMIT }, (_, n) => txId(start + n * step).toString("hex"));
}

const casesOf = (bounds: readonly Bound[]) =>
  (["ASC", "DESC"] as const).flatMap((order) =>
    [false, true].flatMap((cursor) => bounds.map((bound) => [order, cursor, bound] as const)),
  );
const cases = casesOf(["table", "parameter"]);
// Hidden ranges change which entries a page holds (the store's scenario checks those), not the plan.
const planCases = casesOf(["table", "parameter", "hidden ranges"]);

function checkPlan(root: PlanNode, order: Order, withCursor: boolean): void {
  const all = nodes(root);
  const why = all.map((node) => `${node["Node Type"]} ${node["Relation Name"] ?? node["Index Name"] ?? ""}`).join("\n");
  expect(root["Node Type"], why).toBe("Limit");
  const forbidden = ["Sort", "Incremental Sort", "Hash Join", "Merge Join", "Gather", "Gather Merge"];
  expect(
    all.filter((node) => forbidden.includes(node["Node Type"])),
    why,
  ).toEqual([]);
  const ours = [table, names.accountTable];
  expect(
    all.filter((node) => node["Node Type"] === "Seq Scan" && ours.includes(node["Relation Name"] ?? "")),
    why,
  ).toEqual([]);
  // The account table: one scan of its primary key, from the cursor, in the page's order.
  const scans = all.filter((node) => node["Relation Name"] === names.accountTable);
  expect(scans, why).toHaveLength(1);
  const [scan] = scans as [PlanNode];
  expect(["Index Scan", "Index Only Scan"]).toContain(scan["Node Type"]);
  expect(scan["Index Name"]).toBe(`${names.accountTable}_pkey`);
  expect(scan["Scan Direction"]).toBe(order === "ASC" ? "Forward" : "Backward");
  expect(scan["Index Cond"]).toMatch(/account = /);
  if (withCursor) expect(scan["Index Cond"]).toMatch(order === "ASC" ? /ordering_key > / : /ordering_key < /);
  else expect(scan["Index Cond"]).not.toMatch(/ordering_key/);
  // The entries: a primary-key lookup per account row, inside the one nested loop; never the block index.
  const entryIndexes = [`${table}_pkey`, `${table}_by_block`];
  const lookups = all.filter((node) => entryIndexes.includes(node["Index Name"] ?? ""));
  expect(
    lookups.map((node) => node["Index Name"]),
    why,
  ).toEqual([`${table}_pkey`]);
  expect(lookups[0]?.["Index Cond"]).toMatch(/tx_id = a\.tx_id/);
  const loops = all.filter((node) => node["Node Type"] === "Nested Loop");
  expect(loops, why).toHaveLength(1);
  expect(nodes((loops[0] as PlanNode).Plans?.[1] as PlanNode)).toContain(lookups[0]);
}

describe.each([
  ["before ANALYZE", async () => {}],
  [
    "after ANALYZE",
    async () => {
      await pool.query(`ANALYZE ${history}`);
      await pool.query(`ANALYZE ${accounts}`);
    },
  ],
])("an account page %s", (_, prepare) => {
  beforeAll(prepare);

  it.each(planCases)(
    "%s, cursor %s, pointer from the %s: seeks the account index, entries by primary key",
    async (order, cursor, bound) => {
      checkPlan(await plan(order, cursor, bound), order, cursor);
    },
  );

  it.each(cases)(
    "%s, cursor %s, pointer from the %s: the committed entries after the cursor, in order",
    async (order, cursor, bound) => {
      const { text, values } = page(order, cursor, bound);
      const { rows } = await pool.query<{ tx_id: Buffer }>(text, values);
      expect(rows.map((row) => row.tx_id.toString("hex"))).toEqual(expectedIds(order, cursor));
    },
  );
});
