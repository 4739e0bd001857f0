import { ConfigurationError, pointerToHex, visibilityOf } from "@tidemark/core";
import { solanaPointer } from "@tidemark/kin";
import { describe, expect, it } from "vitest";
import { resolveBackfillCommand } from "../src/backfill-command-config.js";
import { backfillPlan, DEFAULT_PARTITION_SIZE, MAX_PARTITIONS } from "../src/backfill-plan.js";
import { resolveRunConfig } from "../src/run-config.js";
import { resolveServeConfig } from "../src/serve-config.js";

describe("backfill plan", () => {
  it("cuts (from, until] into partitions of the size, the last one shorter", () => {
    const plan = backfillPlan("kin4", { from: 100n, until: 350n, partitionSize: 100n });
    expect(plan.partitions.map((p) => [p.after, p.through])).toEqual([
      [100n, 200n],
      [200n, 300n],
      [300n, 350n],
    ]);
    expect(plan.partitions[0]?.ingestor).toBe("history_KIN4:backfill:100-200");
    expect(plan.partitions[0]?.lockKey).toBe("ingestor_history_kin4:backfill:100-200");
    expect(pointerToHex(plan.partitions[2]?.range.after ?? null)).toBe(pointerToHex(solanaPointer(300n)));
    expect(pointerToHex(plan.partitions[2]?.range.through ?? null)).toBe(pointerToHex(solanaPointer(350n)));
  });

  it("never names a partition like the live ingestor or its lock", () => {
    const plan = backfillPlan("kin4", { from: 0n, until: 1n });
    expect(plan.partitions).toHaveLength(1);
    expect(plan.partitions[0]?.ingestor).not.toBe("history_KIN4");
    expect(plan.partitions[0]?.lockKey).not.toBe("ingestor_history_kin4");
    expect(plan.partitionSize).toBe(DEFAULT_PARTITION_SIZE);
  });

  it("has partitions that tile the range exactly, a valid input of core's visibility", () => {
    const plan = backfillPlan("kin4", { from: 7n, until: 1000n, partitionSize: 33n });
    for (const [i, p] of plan.partitions.entries()) {
      expect(p.after).toBe(i === 0 ? 7n : plan.partitions[i - 1]?.through);
      expect(p.through - p.after).toBeLessThanOrEqual(33n);
    }
    expect(plan.partitions.at(-1)?.through).toBe(1000n);
    const ranges = plan.partitions.map((p) => ({ ...p.range, committed: null }));
    expect(() => visibilityOf(null, ranges)).not.toThrow();
  });

  it("refuses an empty range, a size below 1 and too many partitions with typed errors", () => {
    expect(() => backfillPlan("kin4", { from: 10n, until: 10n })).toThrow(/--until: must be after --from \(10\)/);
    expect(() => backfillPlan("kin4", { from: 10n, until: 5n })).toThrow(ConfigurationError);
    expect(() => backfillPlan("kin4", { from: 0n, until: 5n, partitionSize: 0n })).toThrow(
      /--partition-size: must be at least 1/,
    );
    expect(() => backfillPlan("kin4", { from: 0n, until: BigInt(MAX_PARTITIONS) + 1n, partitionSize: 1n })).toThrow(
      /more than 100000/,
    );
  });
});

describe("backfill settings", () => {
  const env = {};
  const command = (flags: Record<string, unknown>) =>
    resolveBackfillCommand({ rpc: "http://127.0.0.1:1", store: "sqlite:./x.db", ...flags }, env);

  it("takes --from, --until, --partition-size and --partitions", () => {
    const { backfill } = command({ from: "10", until: "40", partitionSize: "10", partitions: "3" });
    expect(backfill.partitions).toBe(3);
    expect(backfill.plan.partitions).toHaveLength(3);
  });

  it("refuses bad input by flag name", () => {
    expect(() => command({ from: "40", until: "40" })).toThrow(/--until: must be after --from/);
    expect(() => command({ from: "1", until: "40", partitionSize: "0" })).toThrow(/--partition-size/);
    expect(() => command({ from: "1", until: "40", partitions: "0" })).toThrow(/--partitions: must be from 1/);
    expect(() => command({ from: "x", until: "40" })).toThrow(/--from: must be a whole number/);
    expect(() => command({ until: "40" })).toThrow(/--from: required/);
    expect(() => command({ chain: "kin9", from: "1", until: "40" })).toThrow(/--chain: unknown chain "kin9"/);
    expect(() => command({ chain: "kin3", from: "1", until: "40" })).toThrow(/kin4 only/);
    expect(() => command({ rpc: undefined, from: "1", until: "40" })).toThrow(/--rpc: required/);
  });

  it("reads the plan from TIDEMARK_BACKFILL (as from a config file) for run, serve and backfill alike", () => {
    const shared = { TIDEMARK_BACKFILL: JSON.stringify({ kin4: { from: 100, until: 300, partitionSize: 100 } }) };
    const run = resolveRunConfig({ flags: {}, env: shared });
    const serve = resolveServeConfig({ flags: { port: "0" }, env: shared });
    const { backfill } = resolveBackfillCommand({ rpc: "http://127.0.0.1:1", partitions: "2" }, shared);
    for (const plan of [run.backfill?.kin4?.plan, serve.backfill?.kin4?.plan, backfill.plan]) {
      expect(plan?.partitions.map((p) => p.ingestor)).toEqual([
        "history_KIN4:backfill:100-200",
        "history_KIN4:backfill:200-300",
      ]);
    }
    expect(backfill.partitions).toBe(2);
    expect(run.backfill?.kin4?.partitions).toBe(1);
  });

  it("names a bad plan entry by its place in the setting", () => {
    const bad = (value: unknown) => () =>
      resolveRunConfig({ flags: {}, env: { TIDEMARK_BACKFILL: JSON.stringify(value) } });
    expect(bad({ kin4: { from: 5, until: 5 } })).toThrow(/TIDEMARK_BACKFILL: kin4\.until: must be after kin4\.from/);
    expect(bad({ kin9: { from: 1, until: 5 } })).toThrow(/kin9: unknown chain/);
    expect(bad({ kin4: { from: 1, until: 5, size: 2 } })).toThrow(/kin4\.size: unknown/);
    expect(bad([1])).toThrow(/TIDEMARK_BACKFILL/);
  });
});
