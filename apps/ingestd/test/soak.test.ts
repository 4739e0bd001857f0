import { getEventListeners } from "node:events";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Logger } from "@tidemark/core";
import { expect, it } from "vitest";
import { runService } from "../src/run-command.js";
import { resolveRunConfig } from "../src/run-config.js";
import { workdir } from "./cli-process.js";

/** How long the service runs between the two measurements (env TIDEMARK_SOAK_MS). */
const SOAK_MS = Number(process.env.TIDEMARK_SOAK_MS ?? 120_000);
/** Running before the first measurement, so start-up allocations and JIT warm-up are not counted as growth. */
const WARM_UP_MS = 5000;

const dir = workdir();

/** A full collection, so heapUsed is what is still reachable. */
function collectGarbage(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/** Abort listeners on each named signal, over a few samples: in-flight work (a commit, a request) adds one for a moment. */
async function listenerCounts(signals: ReadonlyMap<string, AbortSignal>, pick: (counts: number[]) => number) {
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < 10; i++) {
    for (const [name, signal] of signals) {
      samples[name] = [...(samples[name] ?? []), getEventListeners(signal, "abort").length];
    }
    await delay(50);
  }
  return Object.fromEntries(Object.entries(samples).map(([name, counts]) => [name, pick(counts)]));
}

// In-process rather than a child: listener counts on the service's own signals can only be read from inside it.
it(
  `runs the demo service for ${SOAK_MS / 1000} s without piling up abort listeners or heap`,
  async () => {
    const gc = collectGarbage();
    let blocks = 0;
    const problems: unknown[] = [];
    const logger: Logger = {
      debug(fields) {
        const { event, span } = fields as { event?: string; span?: number };
        if (event === "committed") blocks += span ?? 1;
      },
      info() {},
      warn: (fields, message) => problems.push({ ...fields, message, err: String((fields as { err?: unknown }).err) }),
      error: (fields, message) => problems.push({ ...fields, message, err: String((fields as { err?: unknown }).err) }),
    };
    const service = new AbortController();
    const signals = new Map<string, AbortSignal>([["service", service.signal]]);
    const config = resolveRunConfig({
      flags: { demo: true, store: `sqlite:${join(dir, "soak.db")}`, status: "off", logLevel: "debug" },
      env: {},
    });
    const running = runService({
      config,
      signal: service.signal,
      logger,
      onLongLivedSignal: (name, signal) => signals.set(name, signal),
    });
    try {
      const deadline = performance.now() + 30_000;
      while (blocks === 0 && performance.now() < deadline) await delay(100);
      expect(blocks, `blocks committed in 30 s; warnings: ${JSON.stringify(problems)}`).toBeGreaterThan(0);
      await delay(WARM_UP_MS);
      expect([...signals.keys()].sort()).toEqual(["poll:kin4", "service", "stop"]);

      const listenersAtStart = await listenerCounts(signals, (counts) => Math.max(...counts));
      gc();
      const heapAtStart = process.memoryUsage().heapUsed;
      const blocksAtStart = blocks;

      await delay(SOAK_MS);

      const listenersAtEnd = await listenerCounts(signals, (counts) => Math.min(...counts));
      gc();
      const heapAtEnd = process.memoryUsage().heapUsed;

      // Leaked listeners show as a floor that rises: at the end even the quietest sample has more than the busiest at the start.
      for (const [name, count] of Object.entries(listenersAtEnd)) {
        expect(count, `abort listeners on ${name}: start ${listenersAtStart[name]}, end ${count}`).toBeLessThanOrEqual(
          listenersAtStart[name] as number,
        );
      }
      expect(
        heapAtEnd,
        `heap used: start ${(heapAtStart / 2 ** 20).toFixed(1)} MiB, end ${(heapAtEnd / 2 ** 20).toFixed(1)} MiB`,
      ).toBeLessThan(heapAtStart * 1.5 + 20 * 2 ** 20);
      // The service really worked through the soak: the demo makes a block every 400 ms.
      expect(
        blocks - blocksAtStart,
        `blocks committed during the soak; warnings: ${JSON.stringify(problems)}`,
      ).toBeGreaterThan(SOAK_MS / 400 / 4);
    } finally {
      service.abort();
      await running;
    }
    expect(getEventListeners(service.signal, "abort"), "listeners after shutdown").toHaveLength(0);
  },
  SOAK_MS + WARM_UP_MS + 90_000,
);
