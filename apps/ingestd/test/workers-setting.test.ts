import { describe, expect, it } from "vitest";
import { resolveRunConfig } from "../src/run-config.js";

describe("the workers setting", () => {
  const kin4 = { rpc: "http://127.0.0.1:8899", store: "sqlite:./x.db" };

  it("reaches the kin4 chain from the flag, the variable or the config file, flag first", () => {
    expect(resolveRunConfig({ flags: { ...kin4, workers: "3" }, env: {} }).chains[0]?.workers).toBe(3);
    expect(resolveRunConfig({ flags: kin4, env: { TIDEMARK_WORKERS: "0" } }).chains[0]?.workers).toBe(0);
    expect(
      resolveRunConfig({ flags: { ...kin4, workers: "1" }, env: { TIDEMARK_WORKERS: "4" } }).chains[0]?.workers,
    ).toBe(1);
    // Unset: the ingestor's default (one per core) applies.
    expect(resolveRunConfig({ flags: kin4, env: {} }).chains[0]).not.toHaveProperty("workers");
  });

  it("is not given to Horizon chains", () => {
    const config = resolveRunConfig({
      flags: { horizon: "http://127.0.0.1:8000", chain: "kin3", workers: "2", store: "sqlite:./x.db" },
      env: {},
    });
    expect(config.chains[0]).not.toHaveProperty("workers");
  });
});
