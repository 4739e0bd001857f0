import { DatabaseSync } from "node:sqlite";
import { isTidemarkError, LockLostError, pointerFromNumber, sleep } from "@tidemark/core";
import { afterAll, afterEach, expect, it } from "vitest";
import { SqliteCommitter, SqliteLock } from "../src/index.js";
import { temporaryDatabase } from "./temp-database.js";

const path = temporaryDatabase();
const raw = new DatabaseSync(path);
afterAll(() => raw.close());
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of opened.splice(0)) await item.close();
});
function lockFor(key: string, extra: object = {}): SqliteLock {
  const lock = new SqliteLock({ path, key, leaseMs: 6000, pollMs: 50, ...extra });
  opened.push(lock);
  return lock;
}

it("lets a waiting standby poll without the write lock, so another writer's transaction does not disturb it", async () => {
  const holder = lockFor("standby-reads");
  await holder.lock(AbortSignal.timeout(5000));
  const standby = lockFor("standby-reads", { busyTimeoutMs: 100 });
  const waiting = standby.lock(AbortSignal.timeout(60_000)).then(
    () => "acquired",
    (error: unknown) => error,
  );
  // A writer (the leader committing, say) holds the write lock for far longer than the standby's busy timeout.
  raw.exec("BEGIN IMMEDIATE");
  await sleep(1000);
  raw.exec("COMMIT");
  await holder.unlock();
  expect(await waiting, "the standby's lock() after the writer's transaction").toBe("acquired");
});

it("rejects a fenced commit whose lease has no token once a fence was raised", async () => {
  const committer = new SqliteCommitter({ path });
  opened.push(committer);
  const lease = await lockFor("null-token").lock(AbortSignal.timeout(5000));
  await committer.fence("null-token-ingestor", lease);
  await committer.commit("null-token-ingestor", null, pointerFromNumber(1), { lease });
  const tokenless = { signal: new AbortController().signal, token: null };
  const attempt = committer.commit("null-token-ingestor", pointerFromNumber(1), pointerFromNumber(2), {
    lease: tokenless,
  });
  const error = await attempt.then(
    () => null,
    (rejection: unknown) => rejection,
  );
  expect(isTidemarkError(error, LockLostError), String(error)).toBe(true);
  expect(await committer.latest("null-token-ingestor")).toEqual(pointerFromNumber(1));
});

it("releases on unlock() and closes its connection on close(), without Node 22.15's DatabaseSync.isOpen", async () => {
  const lock = lockFor("release");
  await lock.lock(AbortSignal.timeout(5000));
  await lock.unlock();
  const row = raw.prepare("SELECT released FROM tidemark_locks WHERE key = ?").get("release") as { released: number };
  expect(row.released).toBe(1);
  await lock.close();
  await lock.close();
});

it("rolls a transaction that failed half-way back, so it does not keep the write lock", async () => {
  const lock = lockFor("rollback", { table: "locks_rollback", tokenTable: "tokens_rollback" });
  // The token table vanishes behind the lock's back: its takeover transaction fails after BEGIN IMMEDIATE.
  raw.exec("DROP TABLE tokens_rollback");
  await expect(lock.lock(AbortSignal.timeout(5000))).rejects.toThrow(/no such table/);
  raw.exec("PRAGMA busy_timeout = 500");
  expect(() => raw.exec("BEGIN IMMEDIATE"), "another connection can write").not.toThrow();
  raw.exec("ROLLBACK");
});
