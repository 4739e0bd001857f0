import type { Committer } from "@tidemark/core";
import { expect, it } from "vitest";
import { backfillPlan } from "../src/backfill-plan.js";
import { planVisibility } from "../src/backfill-visibility.js";

it("rejects the read when the commit store fails, leaving no rejection unhandled", async () => {
  const plan = backfillPlan("kin4", { from: 100n, until: 400n, partitionSize: 100n });
  // Only `latest` is read; every read fails, the live pointer's included.
  const failing = {
    latest: async (name: string) => {
      await new Promise((resolve) => setTimeout(resolve, name === "history_KIN4" ? 20 : 1));
      throw new Error(`store down reading ${name}`);
    },
  } as unknown as Committer;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    const visible = planVisibility({ plan, committer: failing, live: "history_KIN4" });
    await expect(visible()).rejects.toThrow(/store down reading/);
    // The live pointer's read fails last, after the call has already rejected.
    await new Promise((resolve) => setTimeout(resolve, 60));
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
