import { uniqueName } from "@tidemark/conformance";
import {
  BackendUnavailableError,
  ConfigurationError,
  CorruptRecordError,
  InvalidArgumentError,
  type Lease,
  LockLostError,
  pointerFromNumber,
} from "@tidemark/core";
import type { TcpFaultProxy } from "@tidemark/test-servers";
import { Binary, Long, type MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MongoCommitter } from "../src/index.js";
import { closeClient, openClient, rawCollection } from "./support/clients.js";
import { proxyFor } from "./support/proxy.js";

const p = (n: number) => pointerFromNumber(n);
const uri = inject("mongodbUri");
const lease = (token: bigint): Lease => ({ signal: new AbortController().signal, token });

describe("MongoCommitter", () => {
  const client = openClient();
  const raw = rawCollection(client, "tidemark_commits");
  const committer = new MongoCommitter({ client });

  it("stores one document per ingestor: _id the name, latest BSON Binary, fence a 64-bit integer", async () => {
    const ingestor = uniqueName("shape");
    await committer.fence(ingestor, lease(7n));
    await committer.commit(ingestor, null, p(1), { lease: lease(7n) });
    const document = await raw.findOne({ _id: ingestor }, { promoteLongs: false });
    const latest = document?.latest as Binary;
    expect(latest).toBeInstanceOf(Binary);
    expect(latest.sub_type).toBe(Binary.SUBTYPE_DEFAULT);
    expect(Buffer.from(latest.value()).toString("hex")).toBe("0000000000000001");
    expect(Long.isLong(document?.fence), "fence stored as a 64-bit integer").toBe(true);
    expect(String(document?.fence)).toBe("7");
  });

  it("treats a name that looks like a query operator as a plain value", async () => {
    const base = uniqueName("operator");
    const names = [`{"$ne":null}`, `${base}`, `{"_id":{"$gt":""}}`, "$gt"];
    for (const [i, name] of names.entries()) await committer.reset(name, await committer.latest(name), p(10 + i));
    for (const [i, name] of names.entries()) expect(await committer.latest(name)).toEqual(p(10 + i));
  });

  it("rejects a commit fenced by a superseded lease with LockLostError, writing nothing", async () => {
    const ingestor = uniqueName("fenced");
    await committer.fence(ingestor, lease(5n));
    await committer.commit(ingestor, null, p(1), { lease: lease(5n) });
    await committer.fence(ingestor, lease(6n));
    await expect(committer.commit(ingestor, p(1), p(2), { lease: lease(5n) })).rejects.toThrow(LockLostError);
    await expect(committer.fence(ingestor, lease(4n)), "fencing with an older token").rejects.toThrow(LockLostError);
    expect(await committer.latest(ingestor)).toEqual(p(1));
    const stored = await raw.findOne({ _id: ingestor });
    expect(String(stored?.fence)).toBe("6");
    await committer.commit(ingestor, p(1), p(2), { lease: lease(6n) });
    expect(await committer.latest(ingestor)).toEqual(p(2));
  });

  it("rejects a commit whose lease was already lost before sending it", async () => {
    const ingestor = uniqueName("lost-lease");
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    await expect(
      committer.commit(ingestor, null, p(1), { lease: { signal: controller.signal, token: 1n } }),
    ).rejects.toThrow(LockLostError);
    expect(await raw.findOne({ _id: ingestor })).toBeNull();
  });

  it.each([
    ["a string", "0001"],
    ["Binary of subtype 4 (UUID)", new Binary(Buffer.alloc(16, 1), Binary.SUBTYPE_UUID)],
    ["an empty Binary", new Binary(Buffer.alloc(0))],
    ["a number", 42],
  ])(
    "reports a document whose latest is %s as CorruptRecordError naming it, writing nothing",
    async (_what, latest) => {
      const ingestor = uniqueName("corrupt");
      await raw.insertOne({ _id: ingestor, latest });
      const before = await raw.findOne({ _id: ingestor });
      const attempts = [
        () => committer.latest(ingestor),
        () => committer.commit(ingestor, null, p(1)),
        () => committer.commit(ingestor, p(1), p(2)),
        () => committer.fence(ingestor, lease(3n)),
        () => committer.reset(ingestor, p(1), p(2)),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(
          () => null,
          (thrown: unknown) => thrown,
        );
        expect(error).toBeInstanceOf(CorruptRecordError);
        expect((error as Error).message).toContain(`commit document "${ingestor}"`);
        expect((error as Error).message).toContain("tidemark_commits");
        expect((error as Error).message).toMatch(/^mongodb: /);
      }
      expect(await raw.findOne({ _id: ingestor })).toEqual(before);
    },
  );

  it("reports a fence that is not an integer as CorruptRecordError", async () => {
    const ingestor = uniqueName("corrupt-fence");
    await raw.insertOne({ _id: ingestor, latest: new Binary(p(1)), fence: "high" });
    await expect(committer.fence(ingestor, lease(1n))).rejects.toThrow(CorruptRecordError);
    await expect(committer.latest(ingestor)).rejects.toThrow(/fence is the string "high"/);
  });

  it("rejects structural mistakes in its options with InvalidArgumentError", () => {
    expect(() => new MongoCommitter({} as never)).toThrow(InvalidArgumentError);
    expect(() => new MongoCommitter({ client, collection: "$cmd" })).toThrow(InvalidArgumentError);
    expect(() => new MongoCommitter({ client, database: "" })).toThrow(InvalidArgumentError);
  });

  it("closes idempotently without closing the client it was given, and refuses calls afterwards", async () => {
    const ingestor = uniqueName("close");
    const closing = new MongoCommitter({ client });
    await closing.commit(ingestor, null, p(1));
    await closing.close();
    await closing.close();
    await expect(closing.commit(ingestor, p(1), p(2))).rejects.toThrow(InvalidArgumentError);
    await expect(closing.latest(ingestor)).rejects.toThrow(/latest\(\) after close\(\)/);
    expect(await committer.latest(ingestor), "the shared client still works").toEqual(p(1));
  });

  it("rejects with the abort reason when the signal is already aborted, sending nothing", async () => {
    const ingestor = uniqueName("aborted");
    const reason = new Error("stop");
    const signal = AbortSignal.abort(reason);
    await expect(committer.commit(ingestor, null, p(1), { signal })).rejects.toBe(reason);
    await expect(committer.latest(ingestor, { signal })).rejects.toBe(reason);
    await expect(committer.fence(ingestor, lease(1n), { signal })).rejects.toBe(reason);
    expect(await raw.findOne({ _id: ingestor })).toBeNull();
  });

  it("writes with majority write concern and reads with majority read concern unless told otherwise", async () => {
    const seen = async (options: { w?: number | "majority"; level?: "local" | "majority" }) => {
      const monitored = openClient(uri, { monitorCommands: true });
      const commands: Record<string, unknown>[] = [];
      monitored.on("commandStarted", (event) => commands.push(event.command));
      const instance = new MongoCommitter({
        client: monitored,
        ...(options.w ? { writeConcern: { w: options.w } } : {}),
        ...(options.level ? { readConcern: options.level } : {}),
      });
      const ingestor = uniqueName("concerns");
      await instance.commit(ingestor, null, p(1));
      await instance.latest(ingestor);
      const update = commands.find((command) => "update" in command);
      const find = commands.find((command) => "find" in command);
      return { writeConcern: update?.writeConcern, readConcern: find?.readConcern };
    };
    expect(await seen({})).toEqual({ writeConcern: { w: "majority" }, readConcern: { level: "majority" } });
    expect(await seen({ w: 1, level: "local" })).toEqual({ writeConcern: { w: 1 }, readConcern: { level: "local" } });
  });
});

describe("MongoCommitter faults", () => {
  let proxy: TcpFaultProxy;
  let proxied: MongoClient;
  beforeAll(async () => {
    const started = await proxyFor(uri);
    proxy = started.proxy;
    proxied = openClient(started.uri, { serverSelectionTimeoutMS: 1000 });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("recognises a fenced commit whose acknowledgement was lost as applied (its fence says whose it is)", async () => {
    const committer = new MongoCommitter({ client: proxied });
    const ingestor = uniqueName("lost-ack");
    const held = lease(9n);
    await committer.fence(ingestor, held);
    await committer.commit(ingestor, null, p(1), { lease: held });
    proxy.loseAnswerTo(ingestor);
    await committer.commit(ingestor, p(1), p(2), { lease: held });
    expect(proxy.armed, "the answer to the commit was lost").toBe(false);
    expect(await new MongoCommitter({ client: openClient() }).latest(ingestor)).toEqual(p(2));
    await committer.commit(ingestor, p(2), p(3), { lease: held });
  });

  it("rejects a fenced commit whose answer was lost with LockLostError when a newer holder's fence is stored", async () => {
    const committer = new MongoCommitter({ client: proxied });
    const direct = new MongoCommitter({ client: openClient() });
    const ingestor = uniqueName("lost-ack-fenced-out");
    await direct.fence(ingestor, lease(3n));
    await direct.commit(ingestor, null, p(1), { lease: lease(3n) });
    await direct.fence(ingestor, lease(4n));
    proxy.loseAnswerTo(ingestor);
    await expect(committer.commit(ingestor, p(1), p(2), { lease: lease(3n) })).rejects.toThrow(LockLostError);
    expect(proxy.armed).toBe(false);
    expect(await direct.latest(ingestor)).toEqual(p(1));
  });

  it("reports an unknown outcome that read back as not applied with BackendUnavailableError, and a retry commits", async () => {
    const committer = new MongoCommitter({ client: proxied });
    const ingestor = uniqueName("lost-ack-not-applied");
    await committer.commit(ingestor, null, p(1));
    // Fenced while no fence was raised: the first compare-and-swap cannot match, and its answer is lost.
    proxy.loseAnswerTo(ingestor);
    const error = await committer.commit(ingestor, p(1), p(2), { lease: lease(5n) }).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toMatch(/^mongodb: cannot reach mongodb:\/\/127\.0\.0\.1:\d+\/.*commit for "/);
    expect((error as Error).message).toContain("so it was not applied");
    expect(await committer.latest(ingestor)).toEqual(p(1));
    await committer.commit(ingestor, p(1), p(2), { lease: lease(5n) });
    expect(await committer.latest(ingestor)).toEqual(p(2));
  });

  it("rejects a commit with BackendUnavailableError while the server cannot be reached, and commits once it is back", async () => {
    const committer = new MongoCommitter({ client: proxied });
    const ingestor = uniqueName("unreachable");
    await committer.commit(ingestor, null, p(1));
    proxy.down();
    try {
      const error = await committer.commit(ingestor, p(1), p(2)).then(
        () => null,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as Error).message).toContain(`commit for "${ingestor}" in ${committer.namespace}`);
      await expect(committer.latest(ingestor)).rejects.toThrow(BackendUnavailableError);
    } finally {
      proxy.resume();
    }
    // The same client and committer, as `run` would go on using them.
    await waitUntil(() => committer.latest(ingestor), 20_000);
    expect(await committer.latest(ingestor)).toEqual(p(1));
    await committer.commit(ingestor, p(1), p(2));
  });
});

describe("MongoCommitter configuration errors", () => {
  it("rejects with BackendUnavailableError naming the URI without its password when the server cannot be reached", async () => {
    const unreachable = openClient("mongodb://tidemark:hunter2-secret@127.0.0.1:9/ledger", {
      serverSelectionTimeoutMS: 300,
    });
    const committer = new MongoCommitter({ client: unreachable });
    const error = await committer.latest("history").then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(BackendUnavailableError);
    const message = (error as Error).message;
    expect(message).toContain("cannot reach mongodb://tidemark@127.0.0.1:9/ledger");
    expect(message).toContain(`commit document "history" in ledger.tidemark_commits`);
    expect(message).not.toContain("hunter2");
  });

  it("rejects with ConfigurationError when the server refuses the credentials", async () => {
    const wrong = uri.replace(/^mongodb:\/\/([^@/]*@)?/, "mongodb://tidemark-nobody:wrong-password@");
    const committer = new MongoCommitter({ client: openClient(wrong) });
    const error = await committer.commit(uniqueName("auth"), null, p(1)).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/authentication failed at mongodb:\/\/tidemark-nobody@/);
    expect((error as Error).message).not.toContain("wrong-password");
  });

  it("rejects with ConfigurationError when the application closed the client", async () => {
    const closed = openClient();
    await closeClient(closed);
    const error = await new MongoCommitter({ client: closed }).latest("history").then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/^mongodb: closed client for mongodb:\/\/.*commit document "history"/);
  });
});

/** Resolves once `attempt` succeeds, trying again while it fails, for at most `ms`. */
async function waitUntil(attempt: () => Promise<unknown>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (true) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
