import { uniqueName } from "@tidemark/conformance";
import { pointerFromNumber } from "@tidemark/core";
import { beforeAll, describe, expect, it } from "vitest";
import { createSchema, PostgresCommitter, PostgresLock } from "../src/index.js";
import { PostgresLeaseStore } from "../src/lease-store.js";
import { fenceStatements } from "../src/statements.js";
import { openPool } from "./support/postgres.js";

const pool = openPool();
beforeAll(() => createSchema(pool));

const timeout = () => AbortSignal.timeout(10_000);

interface Row {
  owner: string;
  version: string;
  lease_ms: number;
  token: string;
  released: boolean;
  /** expires_at - now(), both by the database's clock, in ms. */
  remaining_ms: number;
}

async function row(key: string): Promise<Row | undefined> {
  const result = await pool.query<Row>(
    `SELECT owner, version, lease_ms, token, released,
       (extract(epoch FROM expires_at - now()) * 1000)::float8 AS remaining_ms
     FROM tidemark_locks WHERE key = $1`,
    [key],
  );
  return result.rows[0];
}

describe("PostgresLock", () => {
  it("writes the lease, a token from the sequence and an expiry by the database's clock", async () => {
    const key = uniqueName("row");
    const lock = new PostgresLock({ pool, key, owner: "node-a", leaseMs: 3000 });
    try {
      const lease = await lock.lock(timeout());
      const stored = (await row(key)) as Row;
      expect(stored.owner).toBe(lease.owner);
      expect(lease.owner).toMatch(/^node-a:[0-9a-f-]{36}$/);
      expect(stored.lease_ms).toBe(3000);
      expect(stored.released).toBe(false);
      expect(BigInt(stored.token)).toBe(lease.token);
      expect(lease).toMatchObject({ key, lockTable: "tidemark_locks" });
      expect(stored.remaining_ms).toBeGreaterThan(2000);
      expect(stored.remaining_ms).toBeLessThanOrEqual(3000);
      // A renewal (every second) pushes the expiry on and changes the version.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const renewed = (await row(key)) as Row;
      expect(renewed.version).not.toBe(stored.version);
      expect(renewed.remaining_ms).toBeGreaterThan(1900);
      await lock.unlock();
      const released = (await row(key)) as Row;
      expect(released.released).toBe(true);
      expect(released.remaining_ms).toBeLessThanOrEqual(0);
    } finally {
      await lock.close();
    }
  });

  it("takes every token from one sequence: each acquisition, of any key, gets a larger one", async () => {
    const tokens: bigint[] = [];
    for (const key of [uniqueName("seq-a"), uniqueName("seq-b")]) {
      const lock = new PostgresLock({ pool, key, leaseMs: 3000 });
      for (let i = 0; i < 3; i++) {
        tokens.push((await lock.lock(timeout())).token);
        await lock.unlock();
      }
      await lock.close();
    }
    const sorted = [...tokens].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(tokens).toEqual(sorted);
    expect(new Set(tokens).size).toBe(tokens.length);
    const { rows } = await pool.query<{ last_value: string }>("SELECT last_value FROM tidemark_lock_tokens");
    expect(BigInt((rows[0] as { last_value: string }).last_value)).toBeGreaterThanOrEqual(tokens.at(-1) as bigint);
  });

  it("never ends a pool it was given", async () => {
    const given = openPool();
    const lock = new PostgresLock({ pool: given, key: uniqueName("given"), leaseMs: 3000 });
    await lock.lock(timeout());
    await lock.close();
    expect((await given.query("SELECT 1 AS one")).rows[0]).toEqual({ one: 1 });
  });
});

describe("PostgresLeaseStore conditions", () => {
  const store = (key: string) =>
    new PostgresLeaseStore(
      key,
      { table: "tidemark_locks", tokenSequence: "tidemark_lock_tokens" },
      { pool, owned: false, label: "test" },
    );
  const claim = (owner: string) => ({ owner, version: `${owner}-v`, leaseMs: 1000 });

  it("takes over only a released row or the very version the engine saw", async () => {
    const key = uniqueName("conditions");
    const leases = store(key);
    expect(await leases.claim(null, claim("a"), timeout())).not.toBe(false);
    // A second insert finds the row: refused.
    expect(await leases.claim(null, claim("b"), timeout())).toBe(false);
    const seen = await leases.read(timeout());
    expect(seen?.owner).toBe("a");
    expect(await leases.renew("a", "a-v", "a-v2", timeout())).toBe(true);
    // The engine timed "a-v"; the holder renewed since: no takeover, however long ago that version was seen.
    expect(await leases.claim(seen, claim("b"), timeout())).toBe(false);
    expect((await leases.read(timeout()))?.owner).toBe("a");
    // A release by someone else's owner id changes nothing.
    await leases.release("b", timeout());
    expect((await leases.read(timeout()))?.released).toBe(false);
    await leases.release("a", timeout());
    const released = await leases.read(timeout());
    expect(released?.released).toBe(true);
    // Released: free to take whatever version was seen.
    const taken = await leases.claim(seen, claim("c"), timeout());
    expect(taken).not.toBe(false);
    expect((taken as { token: bigint }).token).toBeGreaterThan(released?.token as bigint);
    // A renewal by the old owner, at any version, is refused.
    expect(await leases.renew("a", "a-v2", "a-v3", timeout())).toBe(false);
  });

  it("lets a fenced commit through only while its holding is current and unexpired by the database's clock", async () => {
    const key = uniqueName("fence-expiry");
    const ingestor = uniqueName("fence-expiry-ingestor");
    const committer = new PostgresCommitter({ pool });
    const lock = new PostgresLock({ pool, key, leaseMs: 1500, heartbeatMs: 400 });
    try {
      const lease = await lock.lock(timeout());
      await committer.commit(ingestor, null, pointerFromNumber(1), { lease });
      // Paused: no renewals, the signal untouched, and nobody takes over. The database's clock runs out the lease.
      lock.simulateCrash();
      await new Promise((resolve) => setTimeout(resolve, 1800));
      expect(lease.signal.aborted).toBe(false);
      await expect(committer.commit(ingestor, pointerFromNumber(1), pointerFromNumber(2), { lease })).rejects.toThrow(
        expect.objectContaining({ name: "LockLostError", message: expect.stringContaining("its lease is expired") }),
      );
      const stored = await pool.query("SELECT latest, fence FROM tidemark_commits WHERE ingestor = $1", [ingestor]);
      expect(stored.rows[0]).toEqual({ latest: Buffer.from(pointerFromNumber(1)), fence: String(lease.token) });
    } finally {
      await lock.close();
      await committer.close();
    }
  });

  it("share-locks the lock row in a fenced commit: a takeover waits until the commit is done", async () => {
    const key = uniqueName("share-lock");
    const ingestor = uniqueName("share-lock-ingestor");
    const lock = new PostgresLock({ pool, key, leaseMs: 3000 });
    const committing = await pool.connect();
    const contender = await pool.connect();
    try {
      const lease = await lock.lock(timeout());
      const { insert } = fenceStatements('"tidemark_commits"', '"tidemark_locks"');
      await committing.query("BEGIN");
      const applied = await committing.query(insert.text, [
        ingestor,
        Buffer.from(pointerFromNumber(1)),
        String(lease.token),
        lease.key,
        lease.owner,
      ]);
      expect(applied.rowCount).toBe(1);
      // While that statement's transaction is open, nobody can change the lock row it checked.
      await contender.query("SET lock_timeout = 300");
      await expect(
        contender.query("UPDATE tidemark_locks SET owner = 'someone else' WHERE key = $1", [key]),
      ).rejects.toMatchObject({ code: "55P03" });
      await committing.query("COMMIT");
      await contender.query("UPDATE tidemark_locks SET owner = 'someone else' WHERE key = $1", [key]);
    } finally {
      committing.release();
      contender.release();
      await lock.close();
    }
  });
});
