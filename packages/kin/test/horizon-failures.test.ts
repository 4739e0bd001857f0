import { pointerToHex } from "@tidemark/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  type Entry,
  KIN3_MAINNET,
  KinStellarIngestor,
  type KinStellarIngestorOptions,
  KinVersion,
  kinHistoryCodec,
  type RetryInfo,
  type RetryKind,
  stellarPointer,
} from "../src/index.js";
import { type Fault, type FaultRule, HorizonServer } from "../src/simulator/index.js";
import { collect, first } from "./support/ingest.js";
import { pinoLines, WARN } from "./support/pino-lines.js";
import type { Heard, RetryCase } from "./support/retry-case.js";
import { kinScenario } from "./support/scenario.js";

const STREAM = "GET /ledgers (stream)";
const hashOf = (entry: Entry) => Buffer.from(kinHistoryCodec.transactionId(entry)).toString("hex");

// Horizon answering badly, on its REST resources and on its ledger event stream, against the
// simulated Horizon's real HTTP server: every failure is retried with its kind, Retry-After is
// honoured, and ingestion carries on with exactly the right entries.
describe("Horizon ingestor: failure kinds, Retry-After and recovery", () => {
  const servers: HorizonServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  /** Ingests the first `count` ledgers of a fresh Kin3 history with `rules` as faults; checks every entry. */
  async function ingestThrough(
    rules: readonly FaultRule[],
    options: Partial<KinStellarIngestorOptions> = {},
    count = 6,
  ): Promise<{ server: HorizonServer; heard: Heard[]; retries: RetryInfo[] }> {
    const scenario = kinScenario(KIN3_MAINNET, 100, count);
    const server = await HorizonServer.start({ ledgers: scenario.ledgers, networkPassphrase: KIN3_MAINNET.passphrase });
    servers.push(server);
    for (const rule of rules) server.faults.add(rule);
    const heard: Heard[] = [];
    const ingestor = new KinStellarIngestor({
      horizonUrl: server.url,
      allowHttp: true,
      retry: { maxAttempts: 4, initialBackoffMs: 20, maxBackoffMs: 100 },
      ...options,
      onRetry: (retry) => {
        heard.push({ retry });
        options.onRetry?.(retry);
      },
      onRequestSucceeded: (ok) => heard.push({ ok }),
    });
    const { results, entries, failure } = await collect(ingestor, null, first(count));
    expect(failure).toBeUndefined();
    expect(results.map((r) => r.error)).toEqual(scenario.expected.map(() => undefined));
    expect(results.map((r) => pointerToHex(r.block))).toEqual(
      scenario.expected.map((l) => pointerToHex(stellarPointer(KinVersion.KIN3, l.ledger))),
    );
    expect(entries.map(hashOf).sort()).toEqual(scenario.expected.flatMap((l) => l.hashes).sort());
    return { server, heard, retries: heard.flatMap((h) => ("retry" in h ? [h.retry] : [])) };
  }

  /** True when `operation` was reported succeeding after its last retry. */
  function recovered(heard: readonly Heard[], operation: string): boolean {
    const lastRetry = heard.findLastIndex((h) => "retry" in h && h.retry.operation === operation);
    return heard.slice(lastRetry + 1).some((h) => "ok" in h && h.ok.operation === operation);
  }

  const streamCases: readonly RetryCase<Fault, KinStellarIngestorOptions>[] = [
    { name: "an event that is not JSON", fault: { kind: "malformedEvent" }, kind: "malformed" },
    {
      name: "an event of another shape",
      fault: { kind: "mutate", mutate: (record: unknown) => ({ ...(record as object), sequence: "next" }) },
      kind: "invalid",
    },
    {
      name: "a proxy's HTML page instead of an event stream",
      fault: { kind: "malformed", body: "<html><body>Bad Gateway</body></html>", contentType: "text/html" },
      kind: "malformed",
    },
    { name: "HTTP 503", fault: { kind: "http", status: 503 }, kind: "http", status: 503 },
    { name: "a reset connection", fault: { kind: "reset" }, kind: "network" },
    { name: "silence", fault: { kind: "hang" }, kind: "timeout", options: { streamIdleTimeoutMs: 300 } },
  ];
  it.each(streamCases)("reopens the ledger stream after $name, as $kind", async ({ fault, kind, status, options }) => {
    const { server, heard, retries } = await ingestThrough([{ method: "stream /ledgers", fault, times: 2 }], options);
    expect(retries.map((r) => [r.operation, r.kind, r.attempt, r.status])).toEqual([
      [STREAM, kind, 1, status],
      [STREAM, kind, 2, status],
    ]);
    expect(server.requests("stream /ledgers")).toBeGreaterThanOrEqual(3);
    expect(recovered(heard, STREAM)).toBe(true);
  });

  it("keeps reopening the stream when the onRetry listener and the logger throw", async () => {
    const fail = () => {
      throw new Error("reporting bug");
    };
    let calls = 0;
    const { retries } = await ingestThrough([{ method: "stream /ledgers", fault: { kind: "reset" }, times: 2 }], {
      logger: { debug: fail, info: fail, warn: fail, error: fail },
      onRetry: () => {
        calls++;
        fail();
      },
    });
    expect(retries.map((r) => r.kind)).toEqual(["network", "network"]);
    expect(calls).toBe(2);
  });

  it("waits the Retry-After of a stream answering HTTP 429, and logs the status through pino", async () => {
    const { logger, lines } = pinoLines();
    const { server, heard, retries } = await ingestThrough(
      [{ method: "stream /ledgers", fault: { kind: "http", status: 429, retryAfter: "1" } }],
      { logger, onRetry: (retry) => logger.warn({ err: retry.error, kind: retry.kind }, "chain request retried") },
    );
    const [failed, reopened] = server.arrivals("stream /ledgers");
    expect((reopened as number) - (failed as number)).toBeGreaterThanOrEqual(1000 - 2);
    expect(retries).toEqual([
      expect.objectContaining({ operation: STREAM, kind: "throttled", status: 429, throttled: true, delayMs: 1000 }),
    ]);
    expect(lines.filter((l) => l.msg === "Horizon ledger stream dropped; reopening")).toEqual([
      expect.objectContaining({ level: WARN, request: STREAM, kind: "throttled", status: 429, delayMs: 1000 }),
    ]);
    expect(lines.find((l) => l.msg === "chain request retried")).toMatchObject({ err: { status: 429 } });
    expect(lines.filter((l) => /listener threw/.test(l.msg))).toEqual([]);
    expect(recovered(heard, STREAM)).toBe(true);
  });

  it("waits the Retry-After of a transactions page answering HTTP 429, and logs the status through pino", async () => {
    const { logger, lines } = pinoLines();
    const { server, heard, retries } = await ingestThrough(
      [{ method: "GET /ledgers/101/transactions", fault: { kind: "http", status: 429, retryAfter: "1" } }],
      { logger, onRetry: (retry) => logger.warn({ err: retry.error, kind: retry.kind }, "chain request retried") },
    );
    const [failed, retried] = server.arrivals("GET /ledgers/101/transactions");
    expect((retried as number) - (failed as number)).toBeGreaterThanOrEqual(1000 - 2);
    const operation = "GET /ledgers/101/transactions?cursor=";
    expect(retries).toEqual([
      expect.objectContaining({ operation, kind: "throttled", status: 429, throttled: true, delayMs: 1000 }),
    ]);
    expect(lines.filter((l) => l.msg === "Horizon request failed; retrying")).toEqual([
      expect.objectContaining({ level: WARN, request: operation, kind: "throttled", status: 429, delayMs: 1000 }),
    ]);
    expect(lines.filter((l) => /listener threw/.test(l.msg))).toEqual([]);
    expect(recovered(heard, operation)).toBe(true);
  });

  const html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
  const page = "GET /ledgers/102/transactions";
  it.each([
    { name: "a body that is not JSON", fault: { kind: "malformed", body: "}{ not json" }, kind: "malformed" },
    { name: "a truncated body", fault: { kind: "malformed" }, kind: "malformed" },
    {
      name: "a proxy's HTML page with status 200",
      fault: { kind: "malformed", body: html, contentType: "text/html" },
      kind: "malformed",
    },
    { name: "a page of another shape", fault: { kind: "mutate", mutate: () => ({ records: 3 }) }, kind: "invalid" },
    { name: "a proxy's HTML page with status 502", fault: { kind: "http", status: 502, body: html }, kind: "http" },
    { name: "a reset connection", fault: { kind: "reset" }, kind: "network" },
  ] as const)("retries $name from a transactions page as $kind", async ({ fault, kind }) => {
    const { heard, retries } = await ingestThrough([{ method: page, fault, times: 2 }]);
    const operation = "GET /ledgers/102/transactions?cursor=";
    expect(retries.map((r) => [r.operation, r.kind])).toEqual([
      [operation, kind],
      [operation, kind],
    ]);
    expect(recovered(heard, operation)).toBe(true);
  });

  it("retries the newest-ledger request with its kind", async () => {
    const scenario = kinScenario(KIN3_MAINNET, 100, 3);
    const server = await HorizonServer.start({ ledgers: scenario.ledgers });
    servers.push(server);
    server.faults.add({ method: "GET /ledgers", fault: { kind: "malformed", body: html, contentType: "text/html" } });
    server.faults.add({ method: "GET /ledgers", fault: { kind: "mutate", mutate: () => ({ _embedded: {} }) } });
    const heard: Heard[] = [];
    const ingestor = new KinStellarIngestor({
      horizonUrl: server.url,
      allowHttp: true,
      retry: { initialBackoffMs: 10, maxBackoffMs: 20 },
      onRetry: (retry) => heard.push({ retry }),
      onRequestSucceeded: (ok) => heard.push({ ok }),
    });
    const head = await ingestor.head(AbortSignal.timeout(5000));
    expect(pointerToHex(head)).toBe(pointerToHex(stellarPointer(KinVersion.KIN3, 102)));
    const operation = "GET /ledgers?order=desc&limit=1";
    expect(
      heard.map((h) => ("retry" in h ? ["retry", h.retry.operation, h.retry.kind] : ["ok", h.ok.operation])),
    ).toEqual([
      ["retry", operation, "malformed"],
      ["retry", operation, "invalid"],
      ["ok", operation],
    ] satisfies (string | RetryKind)[][]);
  });

  it("reports each ledger event and each page fetched as a successful request", async () => {
    const { heard } = await ingestThrough([], {}, 8);
    const operations = heard.flatMap((h) => ("ok" in h ? [h.ok.operation] : []));
    expect(heard.every((h) => "ok" in h && h.ok.backend === "horizon")).toBe(true);
    expect(operations.filter((o) => o === STREAM).length).toBeGreaterThanOrEqual(8);
    // Ledgers 100, 104 are empty: their records say so and no page is fetched.
    expect(operations.filter((o) => o !== STREAM).sort()).toEqual(
      [101, 102, 103, 105, 106, 107].map((l) => `GET /ledgers/${l}/transactions?cursor=`),
    );
  });
});
