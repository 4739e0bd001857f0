import { type Statement, statement } from "./query.js";

/**
 * The committer's statements on one commit table (a quoted identifier).
 * Parameters: $1 ingestor; then the pointers (bytea).
 */
export function commitStatements(table: string) {
  return {
    table,
    // The first pointer; a row whose latest is NULL (a DBA's placeholder) counts as nothing stored.
    insert: statement(`INSERT INTO ${table} AS c (ingestor, latest) VALUES ($1::text, $2::bytea)
      ON CONFLICT (ingestor) DO UPDATE SET latest = excluded.latest WHERE c.latest IS NULL`),
    // bytea's order is tidemark's pointer order, so the server itself refuses a block that does not advance.
    update: statement(`UPDATE ${table} SET latest = $3::bytea
      WHERE ingestor = $1::text AND latest = $2::bytea AND latest < $3::bytea`),
    reset: statement(`UPDATE ${table} SET latest = $3::bytea WHERE ingestor = $1::text AND latest = $2::bytea`),
    read: statement(`SELECT latest, fence FROM ${table} WHERE ingestor = $1::text`),
  };
}

export interface FenceStatements {
  readonly insert: Statement;
  readonly update: Statement;
  readonly read: Statement;
}

/**
 * Fenced commits: the same writes, applied only while the lease (token, key,
 * owner) is the current, unreleased, unexpired holding of its lock row. The
 * row is share-locked by the check, so a takeover or release waits for the
 * commit (and the commit, if one came first, sees the new row and refuses).
 * `expires_at` is compared with the database's own `now()`: one clock only.
 * The commit row's `fence` records the token of the holding that wrote it.
 */
export function fenceStatements(table: string, locks: string): FenceStatements {
  const held = (token: string, key: string, owner: string) =>
    `EXISTS (SELECT 1 FROM ${locks} WHERE key = ${key}::text AND owner = ${owner}::text AND token = ${token}::bigint
      AND NOT released AND expires_at > now() FOR SHARE)`;
  return {
    insert: statement(`INSERT INTO ${table} AS c (ingestor, latest, fence)
      SELECT $1::text, $2::bytea, $3::bigint WHERE ${held("$3", "$4", "$5")}
      ON CONFLICT (ingestor) DO UPDATE SET latest = excluded.latest, fence = excluded.fence
      WHERE c.latest IS NULL AND (c.fence IS NULL OR c.fence <= excluded.fence)`),
    update: statement(`UPDATE ${table} SET latest = $3::bytea, fence = $4::bigint
      WHERE ingestor = $1::text AND latest = $2::bytea AND latest < $3::bytea
      AND (fence IS NULL OR fence <= $4::bigint) AND ${held("$4", "$5", "$6")}`),
    read: statement(`SELECT
        (SELECT latest FROM ${table} WHERE ingestor = $1::text) AS latest,
        (SELECT fence FROM ${table} WHERE ingestor = $1::text) AS fence,
        COALESCE((SELECT CASE
            WHEN owner <> $4::text OR token <> $2::bigint THEN 'superseded'
            WHEN released THEN 'released'
            WHEN expires_at <= now() THEN 'expired'
            ELSE 'held' END
          FROM ${locks} WHERE key = $3::text), 'absent') AS holding`),
  };
}
