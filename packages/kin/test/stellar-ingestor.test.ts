import { timestampDate } from "@bufbuild/protobuf/wkt";
import { describeIngestor } from "@tidemark/conformance";
import {
  ConfigurationError,
  InvalidArgumentError,
  MemoryCommitState,
  MemoryCommitter,
  MemoryHistoryStore,
  MemoryLock,
  MemoryLockServer,
  pointersEqual,
  pointerToHex,
  run,
} from "@tidemark/core";
import { afterEach, describe, expect, inject, it } from "vitest";
import {
  type Entry,
  KIN2_MAINNET,
  KIN3_MAINNET,
  KinRpcError,
  KinStellarIngestor,
  type KinStellarIngestorOptions,
  KinVersion,
  kinHistoryCodec,
  type RetryInfo,
  RpcResponseError,
  solanaPointer,
  stellarBody,
  stellarPointer,
} from "../src/index.js";
import { type HorizonRecord, HorizonServer, StellarLedgers } from "../src/simulator/index.js";
import { loadJson } from "./support/fixtures.js";
import { collect, first } from "./support/ingest.js";
import { kinScenario } from "./support/scenario.js";

const networks = { pubnet: inject("pubnet"), kin3: inject("kin3"), kin2: inject("kin2") };
const hashOf = (entry: Entry) => Buffer.from(kinHistoryCodec.transactionId(entry)).toString("hex");
const ingestorFor = (network: (typeof networks)["kin3"], options: Partial<KinStellarIngestorOptions> = {}) =>
  new KinStellarIngestor({
    horizonUrl: network.url,
    allowHttp: true,
    version: network.version as KinVersion.KIN2 | KinVersion.KIN3,
    networkPassphrase: network.passphrase,
    retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
    ...options,
  });

describeIngestor("Stellar pubnet, recorded (Horizon)", {
  create: () => ingestorFor(networks.pubnet, { bound: 8, concurrency: 4 }),
  codec: kinHistoryCodec,
  bound: 8,
  inFlight: 4,
});

describeIngestor("Kin3 (Horizon, from a committed pointer)", {
  create: () => ingestorFor(networks.kin3, { bound: 8, concurrency: 4 }),
  codec: kinHistoryCodec,
  parent: stellarPointer(KinVersion.KIN3, 20_000_000),
  bound: 8,
  inFlight: 4,
});

describeIngestor("Kin2 (Horizon)", {
  create: () => ingestorFor(networks.kin2, { bound: 8, concurrency: 4 }),
  codec: kinHistoryCodec,
  bound: 8,
  inFlight: 4,
});

describe.each(Object.entries(networks))("Horizon ingestor on %s", (_name, network) => {
  it("writes every transaction of every ledger once, identified by the hash Horizon reports", async () => {
    const lastLedger = network.expected.at(-1)?.ledger as number;
    const { results, entries } = await collect(ingestorFor(network), null, (r) =>
      pointersEqual(r.block, stellarPointer(network.version, lastLedger)),
    );
    expect(results.map((r) => r.error)).toEqual(network.expected.map(() => undefined));
    expect(results.map((r) => pointerToHex(r.block))).toEqual(
      network.expected.map((l) => pointerToHex(stellarPointer(network.version, l.ledger))),
    );
    for (const ledger of network.expected) {
      const written = entries.filter((e) => stellarBody(e).ledger === BigInt(ledger.ledger));
      // Within a ledger, transactions are written in application order.
      expect(written.map(hashOf), `ledger ${ledger.ledger}`).toEqual(ledger.hashes);
    }
    for (const entry of entries) {
      expect(entry.version).toBe(network.version);
      expect(stellarBody(entry).networkPassphrase).toBe(network.passphrase);
      expect(stellarBody(entry).pagingToken >> 32n).toBe(stellarBody(entry).ledger);
    }
    expect(entries.length).toBe(network.expected.reduce((n, l) => n + l.hashes.length, 0));
  });
});

describe("Horizon ingestor", () => {
  const servers: HorizonServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  const start = async (ledgers: StellarLedgers) => {
    const server = await HorizonServer.start({ ledgers, networkPassphrase: KIN3_MAINNET.passphrase });
    servers.push(server);
    return server;
  };
  const kin3 = (server: HorizonServer, options: Partial<KinStellarIngestorOptions> = {}) =>
    new KinStellarIngestor({
      horizonUrl: server.url,
      allowHttp: true,
      retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
      ...options,
    });

  it("resumes after a pointer in Go's format, never processing the committed ledger again", async () => {
    // agora's pointerFromSequence(KIN3, 20000010): 03 + big-endian u32.
    const parent = new Uint8Array(Buffer.from("0301312d0a", "hex"));
    expect(pointerToHex(parent)).toBe(pointerToHex(stellarPointer(KinVersion.KIN3, 20_000_010)));
    const { results, entries } = await collect(ingestorFor(networks.kin3), parent, first(3));
    expect(pointerToHex(results[0]?.parent ?? null)).toBe("0301312d0a");
    expect(results.map((r) => pointerToHex(r.block))).toEqual(["0301312d0b", "0301312d0c", "0301312d0d"]);
    expect(entries.every((e) => stellarBody(e).ledger > 20_000_010n)).toBe(true);
  });

  it("carries each ledger's close time into its entries", async () => {
    const { entries } = await collect(ingestorFor(networks.pubnet), null, first(6));
    const [entry] = entries;
    expect(stellarBody(entry as Entry).ledger).toBe(7841n);
    expect(
      timestampDate(
        stellarBody(entry as Entry).ledgerCloseTime as NonNullable<ReturnType<typeof stellarBody>["ledgerCloseTime"]>,
      ).toISOString(),
    ).toBe("2015-10-01T00:00:15.000Z");
  });

  it("resumes a dropped stream from the last ledger it delivered", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 100, 30);
    const server = await start(scenario.ledgers);
    server.streamDropAfter = 4;
    const reopened: RetryInfo[] = [];
    const { results, entries } = await collect(
      kin3(server, { onRetry: (info) => reopened.push(info) }),
      null,
      first(30),
    );
    expect(results.map((r) => pointerToHex(r.block))).toEqual(
      scenario.expected.map((l) => pointerToHex(stellarPointer(KinVersion.KIN3, l.ledger))),
    );
    expect(server.requests("stream /ledgers")).toBeGreaterThanOrEqual(7);
    // Each reopening is a retry of the stream.
    expect(reopened.length).toBeGreaterThan(0);
    expect(reopened.length).toBeLessThanOrEqual(server.requests("stream /ledgers") - 1);
    expect(new Set(reopened.map((info) => info.operation))).toEqual(new Set(["GET /ledgers (stream)"]));
    expect(entries.map(hashOf).sort()).toEqual(scenario.expected.flatMap((l) => l.hashes).sort());
  });

  it("follows new ledgers as Horizon closes them, also across a cut connection", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 100, 3);
    const server = await start(scenario.ledgers);
    const ingestor = kin3(server);
    const controller = new AbortController();
    const written: Entry[] = [];
    const queue = await ingestor.ingest(controller.signal, { write: async (e) => void written.push(e) }, null);
    const iterator = queue[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) await (await iterator.next()).value;
    // The connection is cut while the stream waits for the next ledger: it must come back on its own.
    server.dropConnections();
    const tx = scenario.txs.payment(1, 2, "7");
    scenario.ledgers.append([tx]);
    const next = await (await iterator.next()).value;
    expect(pointerToHex(next.block)).toBe(pointerToHex(stellarPointer(KinVersion.KIN3, 103)));
    expect(hashOf(written.at(-1) as Entry)).toBe(tx.hash);
    expect(server.requests("stream /ledgers")).toBeGreaterThanOrEqual(2);
    expect(pointerToHex(await ingestor.head(AbortSignal.timeout(5000)))).toBe(
      pointerToHex(stellarPointer(KinVersion.KIN3, 103)),
    );
    controller.abort();
    await iterator.return?.();
  });

  it("pauses the stream while the consumer is behind and resumes it after", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 100, 40);
    const server = await start(scenario.ledgers);
    const { results } = await collect(kin3(server, { streamBuffer: 4, bound: 2, concurrency: 1 }), null, first(40));
    expect(results.map((r) => pointerToHex(r.block))).toEqual(
      scenario.expected.map((l) => pointerToHex(stellarPointer(KinVersion.KIN3, l.ledger))),
    );
    expect(server.requests("stream /ledgers")).toBeGreaterThan(1);
  });

  it("retries failing transaction pages and, when they keep failing, fails that ledger's result naming it", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 100, 4);
    const server = await start(scenario.ledgers);
    const transient = server.faults.add({
      method: "GET /ledgers/101/transactions",
      fault: { kind: "http", status: 429, retryAfter: "0" },
    });
    const reset = server.faults.add({ method: "GET /ledgers/101/transactions", fault: { kind: "reset" } });
    const lasting = server.faults.add({
      method: "GET /ledgers/102/transactions",
      fault: { kind: "http", status: 503 },
      times: Number.POSITIVE_INFINITY,
    });
    const { results, entries } = await collect(kin3(server), null, first(3));
    expect([transient.hits, reset.hits, lasting.hits]).toEqual([1, 1, 3]);
    expect(results[1]?.error).toBeUndefined();
    expect(entries.filter((e) => stellarBody(e).ledger === 101n).map(hashOf)).toEqual(scenario.expected[1]?.hashes);
    const error = results[2]?.error as KinRpcError;
    expect(error).toBeInstanceOf(KinRpcError);
    expect(error.message).toMatch(
      /Horizon http:\/\/127\.0\.0\.1:\d+ GET \/ledgers\/102\/transactions\?cursor= failed after 3 attempts: HTTP 503/,
    );
  });

  it("tells onRetry about retried requests with their status, and keeps retrying when it throws", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 100, 3);
    const server = await start(scenario.ledgers);
    server.faults.add({
      method: "GET /ledgers/101/transactions",
      fault: { kind: "http", status: 429, retryAfter: "0" },
    });
    server.faults.add({ method: "GET /ledgers/102/transactions", fault: { kind: "http", status: 503 } });
    const seen: RetryInfo[] = [];
    const onRetry = (info: RetryInfo) => {
      seen.push(info);
      throw new Error("listener bug");
    };
    const { results } = await collect(kin3(server, { onRetry }), null, first(3));
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    expect(
      seen
        .map(({ backend, operation, attempt, status, throttled }) => ({
          backend,
          operation,
          attempt,
          status,
          throttled,
        }))
        .sort((a, b) => a.operation.localeCompare(b.operation)),
    ).toEqual([
      {
        backend: "horizon",
        operation: "GET /ledgers/101/transactions?cursor=",
        attempt: 1,
        status: 429,
        throttled: true,
      },
      {
        backend: "horizon",
        operation: "GET /ledgers/102/transactions?cursor=",
        attempt: 1,
        status: 503,
        throttled: false,
      },
    ]);
  });

  it("reports transaction records of the wrong shape with the ledger and the field", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 100, 3);
    const server = await start(scenario.ledgers);
    server.faults.add({
      method: "GET /ledgers/101/transactions",
      times: Number.POSITIVE_INFINITY,
      fault: {
        kind: "mutate",
        mutate: (page) => {
          const p = structuredClone(page) as { _embedded: { records: HorizonRecord[] } };
          (p._embedded.records[1] as HorizonRecord).envelope_xdr = 17;
          return p;
        },
      },
    });
    const { results } = await collect(kin3(server), null, first(2));
    const error = results[1]?.error as KinRpcError;
    expect(error.cause).toBeInstanceOf(RpcResponseError);
    expect((error.cause as RpcResponseError).field).toBe("_embedded.records[1].envelope_xdr");
    expect(error.message).toContain(
      "GET /ledgers/101/transactions?cursor=: _embedded.records[1].envelope_xdr must be base64 XDR, got number 17",
    );
  });

  it("fails, instead of skipping, when Horizon's history has a gap after the committed ledger", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 500, 5);
    const server = await start(scenario.ledgers);
    const { results, failure } = await collect(kin3(server), stellarPointer(KinVersion.KIN3, 450), first(1));
    expect(results).toEqual([]);
    expect(failure).toBeInstanceOf(RpcResponseError);
    expect((failure as Error).message).toMatch(/ledger stream skipped from ledger 450 to 500: its history has a gap/);
  });

  it("does not fetch transactions of ledgers whose record says they have none (recorded pubnet ledgers, old field set)", async () => {
    const page = loadJson<{ _embedded: { records: HorizonRecord[] } }>(
      inject("fixturesDir"),
      "horizon/stellar-pubnet-ledgers-page-desc.json",
    );
    const ledgers = new StellarLedgers();
    for (const record of [...page._embedded.records].reverse()) ledgers.add({ record, transactions: [] });
    const server = await start(ledgers);
    const ingestor = kin3(server, { networkPassphrase: "Public Global Stellar Network ; September 2015" });
    const { results } = await collect(ingestor, null, first(10));
    expect(results.map((r) => pointerToHex(r.block))).toEqual(
      Array.from({ length: 10 }, (_, i) => pointerToHex(stellarPointer(KinVersion.KIN3, 899_230 + i))),
    );
    expect(server.requests("GET /ledgers/")).toBe(0);
  });

  it("fetches the transactions of a ledger whose failed count is unknown (recorded ledger 500)", async () => {
    const record = loadJson<HorizonRecord>(inject("fixturesDir"), "horizon/stellar-pubnet-ledger-500.json");
    const ledgers = new StellarLedgers();
    ledgers.add({ record, transactions: [] });
    const server = await start(ledgers);
    const { results } = await collect(kin3(server), null, first(1));
    expect(results[0]?.error).toBeUndefined();
    expect(server.requests("GET /ledgers/500/transactions")).toBe(1);
  });

  it("rejects unusable pointers and options with clear errors", async () => {
    const ingestor = ingestorFor(networks.kin3);
    const noop = { write: async () => {} };
    const signal = AbortSignal.timeout(5000);
    await expect(ingestor.ingest(signal, noop, solanaPointer(5n))).rejects.toThrow(/expected 5 bytes/);
    await expect(ingestor.ingest(signal, noop, stellarPointer(KinVersion.KIN2, 5))).rejects.toThrow(
      InvalidArgumentError,
    );
    expect(() => new KinStellarIngestor({ horizonUrl: networks.kin3.url })).toThrow(ConfigurationError);
    expect(() => new KinStellarIngestor({ horizonUrl: networks.kin3.url, allowHttp: true, pageLimit: 500 })).toThrow(
      /at most 200/,
    );
    expect(
      new KinStellarIngestor({ horizonUrl: networks.kin3.url, allowHttp: true, version: KinVersion.KIN2 }),
    ).toMatchObject({
      name: "history_KIN2",
      networkPassphrase: "Public Global Kin Ecosystem Network ; June 2018",
    });
  });

  it.each([
    ["kin3", KIN3_MAINNET, 20_000_000],
    ["kin2", KIN2_MAINNET, 30_000_000],
  ] as const)(
    "runs %s end to end with core's run loop and answers account queries by G address",
    async (name, preset, first) => {
      const network = networks[name];
      const ingestor = ingestorFor(network);
      const committer = new MemoryCommitter({ state: new MemoryCommitState() });
      const store = new MemoryHistoryStore<Entry>({
        codec: kinHistoryCodec,
        committed: () => committer.latest(ingestor.name),
      });
      const lock = new MemoryLock({ server: new MemoryLockServer(), key: ingestor.name });
      const last = stellarPointer(preset.version, network.expected.at(-1)?.ledger as number);
      await run({ signal: AbortSignal.timeout(60_000), lock, committer, writer: store, ingestor, until: last });
      expect(pointerToHex(await committer.latest(`history_${name.toUpperCase()}`))).toBe(pointerToHex(last));
      expect(store.size).toBe(network.expected.reduce((n, l) => n + l.hashes.length, 0));
      const txs = kinScenario(preset, first, 0).txs;
      const history = await store.getAccountHistory(txs.address(2), { limit: 500 });
      expect(history.length).toBeGreaterThan(5);
      const tokens = history.map((e) => stellarBody(e).pagingToken);
      expect(tokens).toEqual([...tokens].sort((a, b) => (a < b ? -1 : 1)));
    },
  );
});
