import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  MemoryCommitter,
  MemoryLock,
  MemoryLockServer,
  pointerFromNumber,
  run,
  SequenceIngestor,
} from "../src/index.js";
import { PrometheusMetrics } from "../src/prometheus/index.js";

describe("PrometheusMetrics", () => {
  it("keeps the Go series names under the agora prefix, counting blocks and writes", async () => {
    const registry = new Registry();
    const metrics = new PrometheusMetrics({ registry, prefix: "agora" });
    await run({
      signal: AbortSignal.timeout(10_000),
      lock: new MemoryLock({ server: new MemoryLockServer(), key: "k" }),
      committer: new MemoryCommitter(),
      writer: { write: async () => {} },
      ingestor: new SequenceIngestor({ name: "history_KIN4" }),
      until: pointerFromNumber(50),
      metrics,
    });
    const text = await registry.metrics();
    expect(text).toContain('agora_history_commits{ingestor="history_KIN4"} 50');
    expect(text).toMatch(/agora_history_last_ingestion_time_unix\{ingestor="history_KIN4"\} \d{10}/);
    expect(text).toContain("agora_history_restarts");
    expect(text).toMatch(/agora_history_commit_writes\{ingestor="history_KIN4"\} \d+/);
    expect(text).toContain('agora_history_lock_acquisitions{ingestor="history_KIN4"} 1');
    // A second instance on the same registry reuses the series instead of throwing.
    expect(() => new PrometheusMetrics({ registry, prefix: "agora" })).not.toThrow();
  });
});
