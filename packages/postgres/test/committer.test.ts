import { uniqueName } from "@tidemark/conformance";
import {
  BackendUnavailableError,
  comparePointers,
  InvalidArgumentError,
  InvalidCommitError,
  MemoryLock,
  MemoryLockServer,
  type Pointer,
  pointerToHex,
} from "@tidemark/core";
import { freePorts } from "@tidemark/test-servers";
import { beforeAll, describe, expect, it } from "vitest";
import { createSchema, PostgresCommitter } from "../src/index.js";
import { query } from "../src/query.js";
import { commitStatements } from "../src/statements.js";
import { openPool, rawLatest, url } from "./support/postgres.js";

const pool = openPool();
beforeAll(() => createSchema(pool));

const hex = (text: string): Pointer => Uint8Array.from(Buffer.from(text, "hex"));

/** Pairs whose order trips up signed bytes, text comparison or length-first comparison. */
const AWKWARD: [string, string][] = [
  ["ff", "ff00"],
  ["00ff", "00ff00"],
  ["00", "0000"],
  ["7f", "80"],
  ["7fff", "80"],
  ["01ff", "02"],
  ["fe", "feff"],
  ["feffff", "ff"],
  ["ff", "ffff"],
  ["0a", "0a00"],
  ["61", "41"],
  ["e9", "65"],
  ["0000000000000001", "00000000000000010000"],
  ["ffffffffffffffff", "ffffffffffffffff00"],
];

describe("pointer order", () => {
  it("is PostgreSQL's bytea order: unsigned bytes, a shorter prefix first", async () => {
    const bytes = ["00", "01", "7f", "80", "fe", "ff"];
    const pairs: [string, string][] = [...AWKWARD];
    // Every pair of the short pointers built from the awkward bytes, both ways round.
    const short = [...bytes, ...bytes.flatMap((a) => bytes.map((b) => a + b))];
    for (const a of short) for (const b of short) pairs.push([a, b]);
    const result = await pool.query<{ lt: boolean[]; eq: boolean[] }>(
      "SELECT array_agg(a < b ORDER BY i) AS lt, array_agg(a = b ORDER BY i) AS eq FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS p(a, b, i)",
      [pairs.map(([a]) => Buffer.from(a, "hex")), pairs.map(([, b]) => Buffer.from(b, "hex"))],
    );
    const { lt, eq } = result.rows[0] as { lt: boolean[]; eq: boolean[] };
    const mismatches = pairs.filter(([a, b], i) => {
      const order = comparePointers(hex(a), hex(b));
      return lt[i] !== order < 0 || eq[i] !== (order === 0);
    });
    expect(pairs.length).toBeGreaterThan(1500);
    expect(mismatches, "pairs PostgreSQL orders differently from comparePointers").toEqual([]);
  });

  it("commits along the awkward pairs, and the server's own guard refuses each step back", async () => {
    const committer = new PostgresCommitter({ pool });
    const { update } = commitStatements('"tidemark_commits"');
    try {
      for (const [low, high] of AWKWARD) {
        const [a, b] = comparePointers(hex(low), hex(high)) < 0 ? [low, high] : [high, low];
        const ingestor = uniqueName("order");
        await committer.commit(ingestor, null, hex(a));
        await committer.commit(ingestor, hex(a), hex(b));
        // Around the client-side check: the UPDATE's `latest < $block` alone must refuse going back.
        const back = await query(
          pool,
          "test",
          update,
          [ingestor, Buffer.from(b, "hex"), Buffer.from(a, "hex")],
          AbortSignal.timeout(5000),
        );
        expect(back.rowCount, `${b} -> ${a} in SQL`).toBe(0);
        const same = await query(
          pool,
          "test",
          update,
          [ingestor, Buffer.from(b, "hex"), Buffer.from(b, "hex")],
          AbortSignal.timeout(5000),
        );
        expect(same.rowCount, `${b} -> ${b} in SQL`).toBe(0);
        await expect(committer.commit(ingestor, hex(b), hex(a))).rejects.toBeInstanceOf(InvalidCommitError);
        expect(pointerToHex(await rawLatest(pool, ingestor))).toBe(b);
      }
    } finally {
      await committer.close();
    }
  });
});

describe("PostgresCommitter", () => {
  it("stores the pointer as bytea and the fence column stays empty without a lease", async () => {
    const committer = new PostgresCommitter({ pool });
    const ingestor = uniqueName("bytea");
    await committer.commit(ingestor, null, hex("00ff"));
    const row = await pool.query(
      "SELECT latest, fence, pg_typeof(latest)::text AS type FROM tidemark_commits WHERE ingestor = $1",
      [ingestor],
    );
    expect(row.rows[0]).toEqual({ latest: Buffer.from("00ff", "hex"), fence: null, type: "bytea" });
    await committer.close();
  });

  it("treats a row whose latest is NULL as nothing committed", async () => {
    const committer = new PostgresCommitter({ pool });
    const ingestor = uniqueName("null-row");
    await pool.query("INSERT INTO tidemark_commits (ingestor, latest) VALUES ($1, NULL)", [ingestor]);
    expect(await committer.latest(ingestor)).toBeNull();
    await committer.commit(ingestor, hex("05"), hex("06"));
    expect(pointerToHex(await rawLatest(pool, ingestor))).toBe("06");
    await committer.close();
  });

  it("refuses a lease that is not from a PostgresLock, writing nothing", async () => {
    const committer = new PostgresCommitter({ pool });
    const lock = new MemoryLock({ server: new MemoryLockServer(), key: uniqueName("memory") });
    const ingestor = uniqueName("foreign-lease");
    try {
      const lease = await lock.lock(AbortSignal.timeout(5000));
      await expect(committer.commit(ingestor, null, hex("01"), { lease })).rejects.toThrow(
        expect.objectContaining({
          name: "InvalidArgumentError",
          message: expect.stringMatching(/not from a PostgresLock/),
        }),
      );
      expect(await rawLatest(pool, ingestor)).toBeNull();
    } finally {
      await lock.close();
      await committer.close();
    }
  });

  it("never ends a pool it was given, and refuses calls after close()", async () => {
    const given = openPool();
    const committer = new PostgresCommitter({ pool: given });
    await committer.commit(uniqueName("given"), null, hex("01"));
    await committer.close();
    await committer.close();
    expect((await given.query("SELECT 1 AS one")).rows[0]).toEqual({ one: 1 });
    await expect(committer.latest("x")).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("reports a server that does not answer as BackendUnavailableError naming the table and server", async () => {
    const [port] = await freePorts(1);
    const target = new URL(url);
    target.port = String(port);
    const committer = new PostgresCommitter({ connectionString: target.toString(), requestTimeoutMs: 5000 });
    try {
      const error = await committer.latest("x").then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).message).toContain(`table "tidemark_commits" (127.0.0.1:${port}/`);
    } finally {
      await committer.close();
    }
  });
});
