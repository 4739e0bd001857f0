import { describe, expect, it } from "vitest";
import { type ChainRequest, KinRpcError, type KinSolanaIngestorOptions } from "../src/index.js";
import type { FaultRule } from "../src/simulator/index.js";
import { collect, first } from "./support/ingest.js";
import { pinoLines, WARN } from "./support/pino-lines.js";
import type { Heard, RetryCase } from "./support/retry-case.js";
import { useSolanaNode } from "./support/solana-node.js";

// What the ingestor reports about each failure it retries (RetryInfo.kind, the logs) and about
// each request that succeeds, against a real HTTP node on loopback.
describe("Kin4 ingestor: failure kinds, Retry-After and recovery", () => {
  const node = useSolanaNode("failure-kinds", async (factory, i) => [await factory.transfer(i, i + 1, 10n)]);
  const { slots, ingestor, expectAllBlocks } = node;

  it.each([
    { status: 429, retryAfter: "3", kind: "throttled", throttled: true },
    { status: 503, retryAfter: "1", kind: "http", throttled: false },
  ] as const)(
    "waits the Retry-After of an HTTP $status and logs the status through pino without throwing",
    async ({ status, retryAfter, kind, throttled }) => {
      node.server.faults.add({ method: "getBlock", target: 1001n, fault: { kind: "http", status, retryAfter } });
      const { logger, lines } = pinoLines();
      const heard: Heard[] = [];
      await expectAllBlocks({
        logger,
        onRetry: (retry) => {
          heard.push({ retry });
          // A listener logging the failure itself, as an application would.
          logger.warn({ err: retry.error, kind: retry.kind }, "chain request retried");
        },
        onRequestSucceeded: (ok) => heard.push({ ok }),
      });
      const waitMs = Number(retryAfter) * 1000;
      // Measured where it matters: when the node saw the failed request and its retry.
      const [failed, retried, ...more] = node.server.arrivals("getBlock", 1001n);
      expect(more).toEqual([]);
      expect((retried as number) - (failed as number)).toBeGreaterThanOrEqual(waitMs - 2);
      // pino serializes the failure a listener logs (kit's own HTTP error made its serializer throw).
      expect(lines.filter((l) => /listener threw/.test(l.msg))).toEqual([]);
      const retries = heard.flatMap((h) => ("retry" in h ? [h.retry] : []));
      expect(retries).toEqual([
        expect.objectContaining({
          backend: "solana",
          operation: "getBlock(1001)",
          kind,
          status,
          throttled,
          attempt: 1,
          delayMs: waitMs,
        }),
      ]);
      expect(retries[0]?.error).toMatchObject({ status, retryAfterMs: waitMs });
      const warnings = lines.filter((l) => l.msg === "Solana RPC request failed; retrying");
      expect(warnings).toEqual([
        expect.objectContaining({ level: WARN, request: "getBlock(1001)", kind, status, delayMs: waitMs }),
      ]);
      expect(lines.find((l) => l.msg === "chain request retried")).toMatchObject({
        kind,
        err: { type: "HttpStatusError", status, message: expect.stringContaining(`HTTP ${status}`) },
      });
      // The same operation succeeded afterwards, and was reported so.
      const okIndex = heard.findIndex((h) => "ok" in h && h.ok.operation === "getBlock(1001)");
      expect(okIndex).toBeGreaterThan(heard.findIndex((h) => "retry" in h));
    },
    20_000,
  );

  it.each([
    { code: -32000, message: "Node is unhealthy" },
    // kit knows -32005 and would replace the node's message with "Node is unhealthy; behind by $numSlotsBehind slots".
    { code: -32005, message: "Node is behind by 42 slots" },
  ])("keeps the node's message of a JSON-RPC error $code without data, and retries it", async ({ code, message }) => {
    const fault = node.server.faults.add({
      method: "getBlock",
      target: 1003n,
      times: 2,
      fault: { kind: "rpcError", code, message },
    });
    const { logger, lines } = pinoLines();
    const heard: Heard[] = [];
    await expectAllBlocks({
      logger,
      onRetry: (retry) => heard.push({ retry }),
      onRequestSucceeded: (ok) => heard.push({ ok }),
    });
    expect(fault.hits).toBe(2);
    const retries = heard.flatMap((h) => ("retry" in h ? [h.retry] : []));
    expect(retries.map(({ operation, kind, attempt }) => ({ operation, kind, attempt }))).toEqual([
      { operation: "getBlock(1003)", kind: "rpc", attempt: 1 },
      { operation: "getBlock(1003)", kind: "rpc", attempt: 2 },
    ]);
    expect(retries[0]).not.toHaveProperty("status");
    expect(retries[0]?.error).toMatchObject({ message: `JSON-RPC error ${code}: ${message}` });
    expect(lines.filter((l) => l.msg === "Solana RPC request failed; retrying").map((l) => l.reason)).toEqual([
      `JSON-RPC error ${code}: ${message}`,
      `JSON-RPC error ${code}: ${message}`,
    ]);
    expect(heard.at(-1)).not.toHaveProperty("retry");
    expect(heard.slice(heard.findIndex((h) => "retry" in h))).toContainEqual({
      ok: { backend: "solana", operation: "getBlock(1003)" },
    });
  });

  it("names the node's message when a JSON-RPC error outlasts the attempts", async () => {
    node.server.faults.add({
      method: "getBlock",
      target: 1001n,
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "rpcError", code: -32000, message: "Node is unhealthy" },
    });
    const { results } = await collect(ingestor(), null, first(2));
    const error = results[1]?.error as KinRpcError;
    expect(error).toBeInstanceOf(KinRpcError);
    expect(error.message).toBe(
      "Solana RPC getBlock(1001) failed after 4 attempts: JSON-RPC error -32000: Node is unhealthy",
    );
  });

  const html = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>";
  const cases: readonly (RetryCase<FaultRule, KinSolanaIngestorOptions> & { readonly operation: string })[] = [
    {
      name: "garbage instead of JSON",
      fault: { method: "getBlock", target: 1001n, fault: { kind: "malformed", body: "}{ not json" } },
      operation: "getBlock(1001)",
      kind: "malformed",
    },
    {
      name: "a proxy's HTML page with status 200",
      fault: { method: "getBlock", target: 1001n, fault: { kind: "malformed", body: html, contentType: "text/html" } },
      operation: "getBlock(1001)",
      kind: "malformed",
    },
    {
      name: "a truncated body",
      fault: { method: "getBlock", target: 1003n, fault: { kind: "malformed" } },
      operation: "getBlock(1003)",
      kind: "malformed",
    },
    {
      name: "a null block",
      fault: { method: "getBlock", target: 1003n, fault: { kind: "mutate", mutate: () => null } },
      operation: "getBlock(1003)",
      kind: "invalid",
    },
    {
      name: "a block without transactions",
      fault: {
        method: "getBlock",
        target: 1004n,
        fault: { kind: "mutate", mutate: (block) => ({ ...(block as object), transactions: undefined }) },
      },
      operation: "getBlock(1004)",
      kind: "invalid",
    },
    {
      name: "slots that do not ascend",
      fault: {
        method: "getBlocksWithLimit",
        fault: { kind: "mutate", mutate: (list) => [...(list as number[])].reverse() },
      },
      operation: "getBlocksWithLimit(1000, 1024)",
      kind: "invalid",
    },
    {
      name: "a proxy's HTML page with status 502",
      fault: { method: "getBlock", target: 1000n, fault: { kind: "http", status: 502, body: html } },
      operation: "getBlock(1000)",
      kind: "http",
      status: 502,
    },
    {
      name: "no answer",
      fault: { method: "getBlock", target: 1004n, fault: { kind: "hang" } },
      operation: "getBlock(1004)",
      kind: "timeout",
      options: { requestTimeoutMs: 300 },
    },
    {
      name: "a reset connection",
      fault: { method: "getBlock", target: 1000n, fault: { kind: "reset" } },
      operation: "getBlock(1000)",
      kind: "network",
    },
  ];

  it.each(cases)(
    "retries $name as $kind until the fault is gone, then reports the request succeeded",
    async ({ fault: rule, operation, kind, status, options }) => {
      // The fault lasts until it is removed, after its second retry.
      const fault = node.server.faults.add({ ...rule, times: Number.POSITIVE_INFINITY });
      const heard: Heard[] = [];
      await expectAllBlocks({
        ...options,
        onRetry: (retry) => {
          heard.push({ retry });
          if (heard.filter((h) => "retry" in h).length === 2) fault.remove();
        },
        onRequestSucceeded: (ok) => heard.push({ ok }),
      });
      expect(fault.hits).toBe(2);
      const retries = heard.flatMap((h) => ("retry" in h ? [h.retry] : []));
      expect(retries.map((r) => [r.operation, r.kind, r.status])).toEqual([
        [operation, kind, status],
        [operation, kind, status],
      ]);
      const lastRetry = heard.findLastIndex((h) => "retry" in h);
      expect(heard.slice(lastRetry + 1)).toContainEqual({ ok: { backend: "solana", operation } });
    },
  );

  it("reports every successful request once, by the operation names retries use", async () => {
    const heard: ChainRequest[] = [];
    await expectAllBlocks({ onRequestSucceeded: (ok) => heard.push(ok) });
    const operations = heard.map((h) => h.operation);
    expect(heard.every((h) => h.backend === "solana")).toBe(true);
    expect(operations.filter((o) => o.startsWith("getBlock(")).sort()).toEqual(slots.map((s) => `getBlock(${s})`));
    expect(operations).toContain("getBlocksWithLimit(1000, 1024)");
    expect(operations.filter((o) => o.startsWith("getBlock(")).length).toBe(node.server.requests("getBlock"));
  });

  it("keeps ingesting when the onRequestSucceeded listener throws, and says so once", async () => {
    const { logger, lines } = pinoLines();
    let calls = 0;
    await expectAllBlocks({
      logger,
      onRequestSucceeded: () => {
        calls++;
        throw new Error("listener bug");
      },
    });
    expect(calls).toBeGreaterThanOrEqual(slots.length + 1);
    expect(lines.filter((l) => l.msg.startsWith("onRequestSucceeded listener threw"))).toHaveLength(1);
  });
});
