import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "@tidemark/core";
import { KinBlockFactory } from "@tidemark/kin/simulator";
import { afterAll, afterEach, expect, it } from "vitest";
import { DemoNetwork } from "../src/demo-network.js";

let network: DemoNetwork | null = null;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on("unhandledRejection", onUnhandled);
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
});
afterEach(async () => {
  await network?.stop();
  network = null;
  unhandled.length = 0;
});

/** Collects warnings, as the service's logger would print them. */
function warnings(): Logger & { seen: { fields: Record<string, unknown>; message?: string }[] } {
  const seen: { fields: Record<string, unknown>; message?: string }[] = [];
  return {
    seen,
    debug() {},
    info() {},
    error() {},
    warn(fields, message) {
      seen.push({ fields: fields as Record<string, unknown>, ...(message === undefined ? {} : { message }) });
    },
  };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await delay(10);
  return condition();
}

it("logs a block that fails to sign, skips it and keeps producing blocks, with no unhandled rejection", async () => {
  const factory = await KinBlockFactory.create({ seed: "demo-failure" });
  const logger = warnings();
  let calls = 0;
  network = await DemoNetwork.start({
    blockIntervalMs: 20,
    maxTransactionsPerBlock: 2,
    logger,
    traffic: async (count) => {
      calls++;
      if (calls === 2) throw new Error("signer unavailable");
      return factory.traffic(count);
    },
  });
  const demo = network;
  expect(await until(() => calls >= 2, 5000), "the failing block was attempted").toBe(true);
  const afterFailure = demo.blocks;
  expect(await until(() => demo.blocks >= afterFailure + 5, 5000), "blocks after the failure").toBe(true);
  await network.stop();
  network = null;
  // Rejections are reported after the microtask queue drains; give them a turn of the event loop.
  await delay(20);

  expect(unhandled, "unhandled rejections").toEqual([]);
  expect(logger.seen).toHaveLength(1);
  expect(logger.seen[0]?.fields.err).toEqual(new Error("signer unavailable"));
  expect(logger.seen[0]?.message).toMatch(/skipped the block/);
});

it("builds one block at a time when signing is slower than a block, skipping the block times in between", async () => {
  const factory = await KinBlockFactory.create({ seed: "demo-slow" });
  let building = 0;
  let mostAtOnce = 0;
  network = await DemoNetwork.start({
    blockIntervalMs: 5,
    maxTransactionsPerBlock: 2,
    // Signing takes ten block times, as on a machine busy with something else.
    traffic: async (count) => {
      building++;
      mostAtOnce = Math.max(mostAtOnce, building);
      try {
        await delay(50);
        return await factory.traffic(count);
      } finally {
        building--;
      }
    },
  });
  const demo = network;
  const first = demo.blocks;
  let mostPending = 0;
  const deadline = performance.now() + 1000;
  while (performance.now() < deadline) {
    mostPending = Math.max(mostPending, demo.pendingBlocks);
    await delay(2);
  }
  expect(mostPending, "blocks pending at once").toBe(1);
  expect(mostAtOnce, "blocks signing at once").toBe(1);
  expect(demo.skippedBlocks, "block times skipped while signing").toBeGreaterThan(50);
  expect(demo.blocks - first, "blocks produced in 1 s").toBeGreaterThanOrEqual(5);
  await demo.stop();
  network = null;
  expect(demo.pendingBlocks, "pending after stop").toBe(0);
  const stopped = demo.blocks;
  await delay(100);
  expect(demo.blocks, "no block after stop").toBe(stopped);
});
