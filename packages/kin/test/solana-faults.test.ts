import { ConfigurationError, pointerToHex } from "@tidemark/core";
import { describe, expect, it } from "vitest";
import { KinRpcError, type RetryInfo, RpcResponseError, solanaBody, solanaPointer } from "../src/index.js";
import { collect, first } from "./support/ingest.js";
import { useSolanaNode } from "./support/solana-node.js";

// Every fault below hits a real HTTP exchange on loopback: the ingestor's @solana/kit client sees what it would see from a node.
describe("Kin4 ingestor under RPC faults", () => {
  const node = useSolanaNode("faults", async (factory, i) => [
    await factory.transfer(i, i + 1, 10n),
    await factory.otherTokenTransfer(i, i + 2, 1n),
  ]);
  const { ingestor, expectAllBlocks } = node;

  it("honours Retry-After on HTTP 429", async () => {
    const fault = node.server.faults.add({
      method: "getBlock",
      target: 1001n,
      fault: { kind: "http", status: 429, retryAfter: "1" },
    });
    const elapsed = await expectAllBlocks();
    expect(fault.hits).toBe(1);
    expect(node.server.requests("getBlock")).toBe(5);
    // The backoff alone would have retried after ~20 ms.
    expect(elapsed).toBeGreaterThanOrEqual(900);
  });

  it("retries HTTP 5xx with backoff", async () => {
    const fault = node.server.faults.add({ method: "getBlock", fault: { kind: "http", status: 503 }, times: 3 });
    await expectAllBlocks();
    expect(fault.hits).toBe(3);
  });

  it("tells onRetry about each retry, with the HTTP status and whether the node throttled", async () => {
    node.server.faults.add({
      method: "getBlock",
      target: 1001n,
      fault: { kind: "http", status: 429, retryAfter: "0" },
    });
    node.server.faults.add({ method: "getBlock", target: 1003n, fault: { kind: "http", status: 503 } });
    node.server.faults.add({ method: "getBlocksWithLimit", fault: { kind: "reset" } });
    const seen: RetryInfo[] = [];
    await expectAllBlocks({ onRetry: (info) => seen.push(info) });
    const byOperation = Object.fromEntries(seen.map((info) => [info.operation, info]));
    expect(seen).toHaveLength(3);
    expect(byOperation["getBlock(1001)"]).toMatchObject({
      backend: "solana",
      attempt: 1,
      status: 429,
      throttled: true,
    });
    expect(byOperation["getBlock(1003)"]).toMatchObject({
      backend: "solana",
      attempt: 1,
      status: 503,
      throttled: false,
    });
    const reset = byOperation["getBlocksWithLimit(1000, 1024)"];
    expect(reset).toMatchObject({ backend: "solana", attempt: 1, throttled: false });
    expect(reset).not.toHaveProperty("status");
    expect(reset?.error).toBeInstanceOf(Error);
    expect(seen.every((info) => info.delayMs >= 0 && info.delayMs <= 100 * 1.2)).toBe(true);
  });

  it("keeps retrying when the onRetry listener or the logger throws", async () => {
    const fault = node.server.faults.add({ method: "getBlock", fault: { kind: "http", status: 429 }, times: 2 });
    let calls = 0;
    const fail = () => {
      throw new Error("reporting bug");
    };
    await expectAllBlocks({
      onRetry: () => {
        calls++;
        fail();
      },
      logger: { debug: fail, info: fail, warn: fail, error: fail },
    });
    expect(fault.hits).toBe(2);
    expect(calls).toBe(2);
  });

  it("retries when the node takes longer than the request timeout", async () => {
    const fault = node.server.faults.add({ method: "getBlock", target: 1003n, fault: { kind: "hang" } });
    const elapsed = await expectAllBlocks({ requestTimeoutMs: 300 });
    expect(fault.hits).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(250);
  });

  it("retries connection resets, on block listing and on blocks", async () => {
    const listing = node.server.faults.add({ method: "getBlocksWithLimit", fault: { kind: "reset" } });
    const block = node.server.faults.add({ method: "getBlock", target: 1004n, fault: { kind: "reset" }, times: 2 });
    await expectAllBlocks();
    expect([listing.hits, block.hits]).toEqual([1, 2]);
  });

  it("retries JSON-RPC errors for a block not available yet or reported skipped by a lagging node", async () => {
    const notYet = node.server.faults.add({
      method: "getBlock",
      target: 1000n,
      fault: { kind: "rpcError", code: -32004, message: "Block not available for slot 1000" },
    });
    const skipped = node.server.faults.add({
      method: "getBlock",
      target: 1003n,
      fault: {
        kind: "rpcError",
        code: -32007,
        message: "Slot 1003 was skipped, or missing due to ledger jump to recent snapshot",
      },
    });
    await expectAllBlocks();
    expect([notYet.hits, skipped.hits]).toEqual([1, 1]);
  });

  it("retries a body that is not JSON", async () => {
    const fault = node.server.faults.add({ method: "getBlock", fault: { kind: "malformed" }, times: 2 });
    await expectAllBlocks();
    expect(fault.hits).toBe(2);
  });

  it("never skips a listed block the node keeps calling skipped: the block's result fails, naming it", async () => {
    node.server.faults.add({
      method: "getBlock",
      target: 1001n,
      fault: {
        kind: "rpcError",
        code: -32007,
        message: "Slot 1001 was skipped, or missing due to ledger jump to recent snapshot",
      },
      times: Number.POSITIVE_INFINITY,
    });
    const { results, entries } = await collect(ingestor(), null, first(2));
    expect(results[0]?.error).toBeUndefined();
    expect(pointerToHex(results[1]?.block as Uint8Array)).toBe(pointerToHex(solanaPointer(1001n)));
    const error = results[1]?.error as KinRpcError;
    expect(error).toBeInstanceOf(KinRpcError);
    expect(error.message).toMatch(/Solana RPC getBlock\(1001\) failed after 4 attempts: JSON-RPC error -32007/);
    expect(error.attempts).toBe(4);
    expect(entries.some((e) => solanaBody(e).slot === 1001n)).toBe(false);
  });

  it("fails a block whose response has the wrong shape with an error naming the slot and the field", async () => {
    node.server.faults.add({
      method: "getBlock",
      target: 1003n,
      times: Number.POSITIVE_INFINITY,
      fault: {
        kind: "mutate",
        mutate: (block) => {
          const b = structuredClone(block) as { transactions: { meta: Record<string, unknown> }[] };
          (b.transactions[0] as { meta: Record<string, unknown> }).meta.err = 42;
          return b;
        },
      },
    });
    const { results } = await collect(ingestor(), null, first(3));
    const error = results[2]?.error as KinRpcError;
    expect(error.message).toContain(
      "Solana RPC getBlock(1003) failed after 4 attempts: Solana RPC getBlock(1003): transactions[0].meta.err: expected null, a string or an object, got number 42",
    );
    expect(error.cause).toBeInstanceOf(RpcResponseError);
    expect((error.cause as RpcResponseError).field).toBe("transactions[0].meta.err");
  });

  it("names a missing transactions list and an undecodable transaction", async () => {
    node.server.faults.add({
      method: "getBlock",
      target: 1000n,
      times: 4,
      fault: { kind: "mutate", mutate: (b) => ({ ...(b as object), transactions: undefined }) },
    });
    node.server.faults.add({
      method: "getBlock",
      target: 1001n,
      times: 4,
      fault: {
        kind: "mutate",
        mutate: (block) => {
          const b = structuredClone(block) as { transactions: { transaction: [string, string] }[] };
          (b.transactions[0] as { transaction: [string, string] }).transaction = ["AQID", "base64"];
          return b;
        },
      },
    });
    const { results } = await collect(ingestor(), null, first(2));
    expect(String((results[0]?.error as Error | undefined)?.message)).toContain(
      "getBlock(1000): transactions: expected an array, got nothing",
    );
    expect(String((results[1]?.error as Error | undefined)?.message)).toMatch(
      /getBlock\(1001\): transactions\[0\]\.transaction\[0\]: expected a signed wire transaction, got 3 bytes/,
    );
  });

  it("recovers from a shape fault that clears on retry", async () => {
    const fault = node.server.faults.add({
      method: "getBlock",
      target: 1004n,
      fault: { kind: "mutate", mutate: () => ({ blockTime: "soon" }) },
    });
    await expectAllBlocks();
    expect(fault.hits).toBe(1);
  });

  it("fails the queue when blocks cannot be listed", async () => {
    node.server.faults.add({
      method: "getBlocksWithLimit",
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "mutate", mutate: () => ({ slots: [] }) },
    });
    const { results, failure } = await collect(ingestor(), null, first(1));
    expect(results).toEqual([]);
    expect(failure).toBeInstanceOf(KinRpcError);
    expect((failure as Error).message).toMatch(
      /getBlocksWithLimit\(1000, 1024\) failed after 4 attempts: .*result must be an array of slots/,
    );
  });

  it("does not retry what no retry can fix: 401, unknown methods, unsupported transaction versions", async () => {
    node.server.faults.add({ method: "getBlock", target: 1000n, fault: { kind: "http", status: 401 } });
    node.server.faults.add({
      method: "getBlock",
      target: 1001n,
      fault: {
        kind: "rpcError",
        code: -32015,
        message: "Transaction version (1) is not supported by the requesting client.",
      },
    });
    const { results } = await collect(ingestor(), null, first(2));
    expect(results[0]?.error).toBeInstanceOf(ConfigurationError);
    expect((results[0]?.error as Error | undefined)?.message).toMatch(/Solana RPC getBlock\(1000\): HTTP 401/);
    expect(results[1]?.error).toBeInstanceOf(ConfigurationError);
    // One request per block: the two faults were not retried.
    expect(node.server.arrivals("getBlock", 1000n)).toHaveLength(1);
    expect(node.server.arrivals("getBlock", 1001n)).toHaveLength(1);
  });
});
