import { uniqueName } from "@tidemark/conformance";
import { BackendUnavailableError, CorruptRecordError, InvalidArgumentError, sleep } from "@tidemark/core";
import type { TcpFaultProxy } from "@tidemark/test-servers";
import type { MongoClient } from "mongodb";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { MongoLock, type MongoLockOptions } from "../src/index.js";
import { openClient, rawCollection } from "./support/clients.js";
import { proxyFor } from "./support/proxy.js";

const uri = inject("mongodbUri");
/** Slack for scheduling on a loaded machine; only ever widens an upper bound. */
const SLACK_MS = 1000;

const created: MongoLock[] = [];
function lockOn(client: MongoClient, key: string, options: Partial<MongoLockOptions> = {}): MongoLock {
  const lock = new MongoLock({ client, key, leaseMs: 1500, heartbeatMs: 400, pollMs: 100, ...options });
  created.push(lock);
  return lock;
}
afterEach(async () => {
  for (const lock of created.splice(0)) await lock.close().catch(() => {});
});

describe("MongoLock", () => {
  const client = openClient();
  const raw = rawCollection(client, "tidemark_locks");

  it("writes a lease document (owner, version, lease, token) and a token counter, and renews the version", async () => {
    const key = uniqueName("shape");
    const lock = lockOn(client, key);
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    const first = await raw.findOne({ _id: key });
    expect(first).toMatchObject({ owner: lease.owner, leaseMs: 1500, released: false });
    expect(typeof first?.version).toBe("string");
    expect(String(first?.token)).toBe(String(lease.token));
    expect(String((await raw.findOne({ _id: { tokenOf: key } }))?.token)).toBe(String(lease.token));
    await sleep(1000);
    const renewed = await raw.findOne({ _id: key });
    expect(renewed?.version, "the heartbeat rewrote the version").not.toBe(first?.version);
    expect(lease.signal.aborted).toBe(false);
    expect(await lock.describe()).toEqual({
      key,
      owner: lease.owner,
      token: lease.token,
      leaseMs: 1500,
      released: false,
    });
    await lock.unlock();
    expect(await lock.describe()).toBeNull();
    expect((await raw.findOne({ _id: key }))?.released).toBe(true);
  });

  it("hands out strictly increasing tokens, also after an operator deleted the lease document", async () => {
    const key = uniqueName("tokens");
    const lock = lockOn(client, key);
    const tokens: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      tokens.push((await lock.lock(AbortSignal.timeout(10_000))).token);
      await lock.unlock();
    }
    await raw.deleteOne({ _id: key });
    tokens.push((await lock.lock(AbortSignal.timeout(10_000))).token);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as bigint);
  });

  it.each([
    ["without an owner", { version: "v", leaseMs: 1000, token: 1, released: false }],
    ["with a string lease", { owner: "o", version: "v", leaseMs: "1000", token: 1, released: false }],
    ["with a negative token", { owner: "o", version: "v", leaseMs: 1000, token: -3, released: false }],
    ["without released", { owner: "o", version: "v", leaseMs: 1000, token: 1 }],
  ])("rejects a lease document %s with CorruptRecordError naming it, writing nothing", async (_what, fields) => {
    const key = uniqueName("corrupt");
    await raw.insertOne({ _id: key, ...fields });
    const lock = lockOn(client, key);
    const error = await lock.lock(AbortSignal.timeout(10_000)).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(CorruptRecordError);
    expect((error as Error).message).toContain(`lease document "${key}" in ${lock.namespace} is corrupt`);
    await expect(lock.describe()).rejects.toThrow(CorruptRecordError);
    expect(await raw.findOne({ _id: key })).toEqual({ _id: key, ...fields });
    expect(await raw.findOne({ _id: { tokenOf: key } }), "no token was taken").toBeNull();
  });

  it("waits for the lease written in the document, not its own, before taking over", async () => {
    const key = uniqueName("advertised");
    const holder = lockOn(client, key, { leaseMs: 2500, heartbeatMs: 500 });
    await holder.lock(AbortSignal.timeout(10_000));
    holder.simulateCrash();
    const lastRenewal = holder.lastRenewedAt as number;
    const impatient = lockOn(openClient(), key, { leaseMs: 300, heartbeatMs: 100, safetyMarginMs: 50 });
    await impatient.lock(AbortSignal.timeout(20_000));
    expect(performance.now() - lastRenewal).toBeGreaterThanOrEqual(2500 - 50);
  });

  it("rejects nonsensical timings with InvalidArgumentError", () => {
    const key = uniqueName("options");
    expect(() => new MongoLock({ client, key: "" })).toThrow(InvalidArgumentError);
    expect(() => new MongoLock({ client, key, leaseMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => new MongoLock({ client, key, leaseMs: 1000, safetyMarginMs: 1000 })).toThrow(InvalidArgumentError);
    expect(() => new MongoLock({ client, key, leaseMs: 1000, heartbeatMs: 900 })).toThrow(/before its first renewal/);
  });

  it("rejects lock() with BackendUnavailableError naming the URI, not its password, when the server cannot be reached", async () => {
    const unreachable = openClient("mongodb://ops:secret-pw@127.0.0.1:9/fleet", { serverSelectionTimeoutMS: 200 });
    const lock = lockOn(unreachable, "history");
    const error = await lock.lock(AbortSignal.timeout(10_000)).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toContain("cannot reach mongodb://ops@127.0.0.1:9/fleet");
    expect((error as Error).message).toContain('lease document "history" in fleet.tidemark_locks');
    expect((error as Error).message).not.toContain("secret-pw");
  });

  it("closes idempotently without closing the client it was given", async () => {
    const key = uniqueName("close");
    const lock = lockOn(client, key);
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await lock.close();
    await lock.close();
    expect(lease.signal.aborted).toBe(true);
    expect((await raw.findOne({ _id: key }))?.released, "released on close").toBe(true);
    await expect(lock.lock(AbortSignal.timeout(1000))).rejects.toThrow(InvalidArgumentError);
  });
});

describe("MongoLock renewals through a faulty network", () => {
  let proxy: TcpFaultProxy;
  let proxied: MongoClient;
  const failedCommands: string[] = [];
  beforeAll(async () => {
    const started = await proxyFor(uri);
    proxy = started.proxy;
    proxied = openClient(started.uri, { serverSelectionTimeoutMS: 500, monitorCommands: true });
    proxied.on("commandFailed", (event) => failedCommands.push(event.commandName));
  });
  afterEach(() => proxy.resume());
  afterAll(async () => {
    await proxy?.close();
  });

  it("keeps the lease when a renewal was applied but its acknowledgement was lost", async () => {
    const key = uniqueName("lost-ack");
    const lock = lockOn(proxied, key, { leaseMs: 3000, heartbeatMs: 500, safetyMarginMs: 500 });
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await sleep(700);
    const droppedAt = performance.now();
    failedCommands.length = 0;
    // The key is in every request about this lock; while it is held, the next one is a renewal.
    proxy.loseAnswerTo(key);
    await sleep(2500);
    expect(failedCommands, "the renewal whose reply was dropped failed on the client").toContain("update");
    expect(lease.signal.aborted, "lease kept").toBe(false);
    expect(lock.lastRenewedAt as number, "renewals went on being confirmed").toBeGreaterThan(droppedAt);
  });

  it("keeps the lease through renewals that time out while the network stalls briefly", async () => {
    const key = uniqueName("stall");
    const lock = lockOn(proxied, key, { leaseMs: 4000, heartbeatMs: 500, requestTimeoutMs: 300, safetyMarginMs: 800 });
    const lease = await lock.lock(AbortSignal.timeout(10_000));
    await sleep(600);
    proxy.stall();
    await sleep(1200);
    const resumedAt = performance.now();
    proxy.resume();
    await sleep(2000);
    expect(lease.signal.aborted, "lease kept").toBe(false);
    expect(lock.lastRenewedAt as number).toBeGreaterThan(resumedAt);
  });

  it("aborts the lease before leaseMs - margin without a confirmed renewal, and before any contender takes over", async () => {
    const key = uniqueName("partition");
    const leaseMs = 2000;
    const marginMs = 400;
    const holder = lockOn(proxied, key, { leaseMs, heartbeatMs: 400, safetyMarginMs: marginMs });
    const lease = await holder.lock(AbortSignal.timeout(10_000));
    await sleep(500);
    proxy.down();
    const lastConfirmed = holder.lastRenewedAt as number;
    let abortedAt = 0;
    lease.signal.addEventListener("abort", () => (abortedAt = performance.now()), { once: true });
    const contender = lockOn(openClient(), key, { leaseMs, heartbeatMs: 400 });
    await contender.lock(AbortSignal.timeout(30_000));
    const acquiredAt = performance.now();
    expect(abortedAt, "the holder gave up").toBeGreaterThan(0);
    expect(abortedAt, "the holder gave up before the takeover").toBeLessThan(acquiredAt);
    expect(abortedAt - lastConfirmed).toBeGreaterThanOrEqual(leaseMs - marginMs - 50);
    expect(abortedAt - lastConfirmed).toBeLessThanOrEqual(leaseMs - marginMs + SLACK_MS);
    expect(acquiredAt - lastConfirmed).toBeGreaterThanOrEqual(leaseMs - 50);
  });
});
