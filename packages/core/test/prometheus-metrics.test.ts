import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
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

  it("creates every per-ingestor series at 0 up front with `ingestors`, so a standby exports them too", async () => {
    const registry = new Registry();
    new PrometheusMetrics({ registry, ingestors: ["history_KIN4", "history_KIN3"] });
    const text = await registry.metrics();
    for (const ingestor of ["history_KIN4", "history_KIN3"]) {
      for (const series of [
        "history_leader",
        "history_commits",
        "history_commit_writes",
        "history_restarts",
        "history_commit_conflicts",
        "history_lock_acquisitions",
        "history_lock_losses",
        "history_late_commits",
        "history_reconciliations",
      ]) {
        expect(text).toContain(`tidemark_${series}{ingestor="${ingestor}"} 0\n`);
      }
      for (const stage of ["lock", "unlock", "fence", "latest", "ingest", "result", "commit"]) {
        expect(text).toContain(`tidemark_history_errors{ingestor="${ingestor}",stage="${stage}"} 0\n`);
      }
    }
    // 0 would read as a commit in 1970: the time appears with the first commit only.
    expect(text).not.toMatch(/tidemark_history_last_ingestion_time_unix\{/);
    expect(() => new PrometheusMetrics({ registry: new Registry(), ingestors: [""] })).toThrow(InvalidArgumentError);
    expect(
      () => new PrometheusMetrics({ registry: new Registry(), ingestors: "history_KIN4" as unknown as string[] }),
    ).toThrow(InvalidArgumentError);
  });

  it("does not reset a series another instance on the same registry already moved", async () => {
    const registry = new Registry();
    const first = new PrometheusMetrics({ registry });
    first.observe({ type: "acquired", ingestor: "history_KIN4", token: 1n });
    first.observe({ type: "restart", ingestor: "history_KIN4", attempt: 1, delayMs: 500, error: new Error("x") });
    new PrometheusMetrics({ registry, ingestors: ["history_KIN4"] });
    const text = await registry.metrics();
    expect(text).toContain('tidemark_history_leader{ingestor="history_KIN4"} 1\n');
    expect(text).toContain('tidemark_history_restarts{ingestor="history_KIN4"} 1\n');
  });

  it("counts late commits as commits too, and reconciliations on their own", async () => {
    const registry = new Registry();
    const metrics = new PrometheusMetrics({ registry });
    const ingestor = "history_KIN4";
    const [p1, p2, p3] = [1, 2, 3].map((n) => pointerFromNumber(n)) as [Uint8Array, Uint8Array, Uint8Array];
    metrics.observe({ type: "committed", ingestor, parent: null, block: p1, span: 1 });
    metrics.observe({ type: "committed", ingestor, parent: p1, block: p2, span: 1, late: true });
    metrics.observe({ type: "reconciled", ingestor, known: p2, stored: p3, unsettled: null });
    const text = await registry.metrics();
    expect(text).toContain('tidemark_history_commits{ingestor="history_KIN4"} 2\n');
    expect(text).toContain('tidemark_history_late_commits{ingestor="history_KIN4"} 1\n');
    expect(text).toContain('tidemark_history_reconciliations{ingestor="history_KIN4"} 1\n');
  });
});
