import { uniqueName } from "@tidemark/conformance";
import {
  ConfigurationError,
  CorruptRecordError,
  InvalidArgumentError,
  InvalidCommitError,
  type Lease,
  LockLostError,
  pointerFromNumber,
} from "@tidemark/core";
import { Binary, Long, type MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MongoCommitter } from "../src/index.js";
import { openClient, rawCollection } from "./support/clients.js";
import { type FaultProxy, proxyFor } from "./support/proxy.js";

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
    expect(() => new MongoCommitter({ client, connectAttempts: 0 })).toThrow(InvalidArgumentError);
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
  let proxy: FaultProxy;
  let proxied: MongoClient;
  beforeAll(async () => {
    const started = await proxyFor(uri);
    proxy = started.proxy;
    proxied = openClient(started.uri);
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
    proxy.dropNextReply();
    await committer.commit(ingestor, p(1), p(2), { lease: held });
    expect(await new MongoCommitter({ client: openClient() }).latest(ingestor)).toEqual(p(2));
    await committer.commit(ingestor, p(2), p(3), { lease: held });
  });

  it("fails an unfenced commit whose acknowledgement was lost, and the stored pointer tells what happened", async () => {
    const committer = new MongoCommitter({ client: proxied });
    const ingestor = uniqueName("lost-ack-unfenced");
    await committer.commit(ingestor, null, p(1));
    proxy.dropNextReply();
    await expect(committer.commit(ingestor, p(1), p(2))).rejects.toThrow(/^mongodb: commit for ".*" in .* failed/);
    expect(await new MongoCommitter({ client: openClient() }).latest(ingestor)).toEqual(p(2));
    // Retrying the same commit is safe: the compare-and-swap refuses it.
    await expect(committer.commit(ingestor, p(1), p(2))).rejects.toThrow(InvalidCommitError);
  });

  it("fails a commit that never reached the server, and the pointer is still the parent", async () => {
    const committer = new MongoCommitter({ client: proxied });
    const ingestor = uniqueName("unknown");
    await committer.commit(ingestor, null, p(1));
    proxy.down();
    const failed = committer.commit(ingestor, p(1), p(2), { signal: AbortSignal.timeout(1500) });
    await expect(failed).rejects.toThrow();
    proxy.resume();
    // Checked on a direct client: a client whose connections were all cut may need a while to recover.
    const direct = new MongoCommitter({ client: openClient() });
    expect(await direct.latest(ingestor)).toEqual(p(1));
    await direct.commit(ingestor, p(1), p(2));
  });
});

describe("MongoCommitter configuration errors", () => {
  it("rejects with ConfigurationError naming the URI without its password once an unreachable server's retries are exhausted", async () => {
    const unreachable = openClient("mongodb://tidemark:hunter2-secret@127.0.0.1:9/ledger", {
      serverSelectionTimeoutMS: 300,
    });
    const committer = new MongoCommitter({ client: unreachable, connectAttempts: 2, connectRetryMs: 10 });
    const started = performance.now();
    const error = await committer.latest("history").then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    expect(message).toContain("cannot reach mongodb://tidemark@127.0.0.1:9/ledger after 2 attempts");
    expect(message).toContain(`commit document "history" in ledger.tidemark_commits`);
    expect(message).not.toContain("hunter2");
    expect(performance.now() - started, "both attempts waited for server selection").toBeGreaterThanOrEqual(550);
  });

  it("rejects with ConfigurationError when the server refuses the credentials", async () => {
    const wrong = uri.replace(/^mongodb:\/\/([^@/]*@)?/, "mongodb://tidemark-nobody:wrong-password@");
    const committer = new MongoCommitter({ client: openClient(wrong), connectAttempts: 2, connectRetryMs: 10 });
    const error = await committer.commit(uniqueName("auth"), null, p(1)).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/authentication failed at mongodb:\/\/tidemark-nobody@/);
    expect((error as Error).message).not.toContain("wrong-password");
  });
});
