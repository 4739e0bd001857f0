/** What a table of the schema must look like. */
export interface ExpectedTable {
  /** Names it in messages, e.g. `commit table`. */
  readonly what: string;
  /** Column name to type, as `format_type` writes it (`bytea`, `timestamp with time zone`). */
  readonly columns: Readonly<Record<string, string>>;
  readonly primaryKey: readonly string[];
}

/** A table's columns and primary key as the catalog reports them (no row: the table does not exist). */
export interface TableShape {
  readonly columns: { name: string; type: string }[] | null;
  readonly primary_key: string[] | null;
}

/** Reads the shape of the table named by parameter `$1` (a quoted, possibly schema-qualified name). */
export const TABLE_SHAPE_SQL = `SELECT
     (SELECT json_agg(json_build_object('name', attname, 'type', format_type(atttypid, atttypmod)))
        FROM pg_attribute WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped) AS columns,
     (SELECT array_agg(a.attname::text ORDER BY k.ord)
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = t.oid AND i.indisprimary) AS primary_key
   FROM (SELECT to_regclass($1::text) AS oid) t WHERE t.oid IS NOT NULL`;

/** What is wrong with table `name` against `expected`, in words; null when it has the expected shape. */
export function shapeProblem(name: string, found: TableShape, expected: ExpectedTable): string | null {
  const columns = new Map((found.columns ?? []).map((column) => [column.name, column.type]));
  for (const [column, type] of Object.entries(expected.columns)) {
    const actual = columns.get(column);
    if (actual === undefined) return `${expected.what} "${name}" has no column "${column}" (${type})`;
    if (actual !== type) return `column "${column}" of ${expected.what} "${name}" is ${actual}, expected ${type}`;
  }
  const primaryKey = (found.primary_key ?? []).join(", ");
  if (primaryKey !== expected.primaryKey.join(", ")) {
    return `the primary key of ${expected.what} "${name}" is (${primaryKey || "none"}), expected (${expected.primaryKey.join(", ")})`;
  }
  return null;
}
