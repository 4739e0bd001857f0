import { describe, expect, it } from "vitest";
import { BodyBuffers } from "../src/solana/body-buffers.js";

describe("BodyBuffers", () => {
  it("hands out a buffer with room for a slightly longer body, and the same one again once given back", () => {
    const buffers = new BodyBuffers(10 * 1024 * 1024);
    const first = buffers.take(2_331_917);
    expect(first.byteLength).toBeGreaterThanOrEqual(2_331_917 * 1.06);
    expect(buffers.owns(first)).toBe(true);
    buffers.give(first);
    expect(buffers.freeBytes).toBe(first.byteLength);
    // The next block is a few bytes longer: it still fits.
    expect(buffers.take(2_332_100)).toBe(first);
    expect(buffers.freeBytes).toBe(0);
    expect(buffers.allocatedBytes).toBe(first.byteLength);
  });

  it("takes the smallest free buffer that fits, and allocates when none does", () => {
    const buffers = new BodyBuffers(64 * 1024 * 1024);
    const small = buffers.take(100_000);
    const large = buffers.take(4_000_000);
    buffers.give(large);
    buffers.give(small);
    expect(buffers.take(50_000)).toBe(small);
    const fresh = buffers.take(8_000_000);
    expect(fresh).not.toBe(large);
    expect(buffers.take(1_000_000)).toBe(large);
  });

  it("keeps at most maxFreeBytes for reuse", () => {
    const buffers = new BodyBuffers(3 * 1024 * 1024);
    const a = buffers.take(2 * 1024 * 1024);
    const b = buffers.take(2 * 1024 * 1024);
    buffers.give(a);
    buffers.give(b);
    expect(buffers.freeBytes).toBe(a.byteLength);
    expect(buffers.take(1024)).toBe(a);
    expect(buffers.take(1024)).not.toBe(b);
  });

  it("never keeps a buffer that was transferred away", () => {
    const buffers = new BodyBuffers(10 * 1024 * 1024);
    const buffer = buffers.take(1_000_000);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(buffer, [buffer]);
    port1.close();
    port2.close();
    expect(buffer.byteLength).toBe(0);
    buffers.give(buffer);
    expect(buffers.freeBytes).toBe(0);
  });

  it("owns only what it handed out or took back, so no other view's memory is reused", () => {
    const buffers = new BodyBuffers(10 * 1024 * 1024);
    // A Buffer may be a slice of Node's shared pool: never transferred, never reused.
    expect(buffers.owns(Buffer.from("small").buffer)).toBe(false);
    expect(buffers.owns(new ArrayBuffer(16))).toBe(false);
    const returned = new ArrayBuffer(1 << 20);
    buffers.give(returned);
    expect(buffers.owns(returned)).toBe(true);
  });
});
