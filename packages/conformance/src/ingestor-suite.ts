import {
  comparePointers,
  type Ingestor,
  type Pointer,
  pointersEqual,
  pointerToHex,
  type Result,
  sleep,
  type WriteOptions,
  type Writer,
} from "@tidemark/core";
import { afterEach, describe, expect, it } from "vitest";
import type { IngestorSuiteOptions } from "./options.js";
import { Resources } from "./resources.js";

/** Every ingestor group in one `describe`. */
export function describeIngestor<E>(name: string, options: IngestorSuiteOptions<E>): void {
  describe(`${name} ingestor`, () => {
    ingestorChain(options);
    ingestorWritesFirst(options);
    ingestorAbort(options);
    ingestorBuffer(options);
  });
}

/** Records writes with a small delay, so a result that settles before its writes finish is caught. */
class RecordingWriter<E> implements Writer<E> {
  readonly pendingBlocks: Pointer[] = [];
  readonly written: { block: Pointer; startedAt: number }[] = [];
  readonly #block: (entry: E) => Pointer;
  readonly #delayMs: number;

  constructor(block: (entry: E) => Pointer, delayMs: number) {
    this.#block = block;
    this.#delayMs = delayMs;
  }

  async write(entry: E, options: WriteOptions = {}): Promise<void> {
    const block = this.#block(entry);
    this.written.push({ block, startedAt: performance.now() });
    this.pendingBlocks.push(block);
    try {
      if (this.#delayMs > 0) await sleep(this.#delayMs, options.signal);
    } finally {
      this.pendingBlocks.splice(this.pendingBlocks.indexOf(block), 1);
    }
  }

  distinctBlocks(): number {
    return new Set(this.written.map((w) => pointerToHex(w.block))).size;
  }
}

function setup<E>(options: IngestorSuiteOptions<E>) {
  const controllers = new Resources<AbortController>((c) => c.abort(new Error("test ended")));
  const ingestors = new Resources<Ingestor<E>>(async (i) => {
    await options.destroy?.(i);
  });
  afterEach(async () => {
    await controllers.closeAll();
    await ingestors.closeAll();
  });
  const start = async (delayMs = 0) => {
    const ingestor = ingestors.add(await options.create());
    const controller = controllers.add(new AbortController());
    const recorder = new RecordingWriter<E>((entry) => options.codec.block(entry), delayMs);
    const writer = options.wrapWriter ? options.wrapWriter(recorder) : recorder;
    const queue = await ingestor.ingest(controller.signal, writer, options.parent ?? null);
    return { controller, recorder, iterator: queue[Symbol.asyncIterator]() };
  };
  return { start, count: options.results ?? 10 };
}

async function nextResult(iterator: AsyncIterator<Promise<Result>>): Promise<Result> {
  const step = await iterator.next();
  expect(step.done, "the queue ended early").toBe(false);
  return await (step.value as Promise<Result>);
}

/** Results chain onto the starting parent and onto each other. */
export function ingestorChain<E>(options: IngestorSuiteOptions<E>): void {
  describe("chain", () => {
    const { start, count } = setup(options);

    it("delivers results that chain from the given parent with strictly increasing blocks", async () => {
      const { iterator } = await start();
      let previous: Pointer | null = options.parent ?? null;
      for (let i = 0; i < count; i++) {
        const result = await nextResult(iterator);
        expect(result.error, `result ${i} error`).toBeUndefined();
        expect(pointersEqual(result.parent, previous), `result ${i} parent chains`).toBe(true);
        if (previous !== null)
          expect(comparePointers(result.block, previous), `result ${i} advances`).toBeGreaterThan(0);
        previous = result.block;
      }
    });
  });
}

/** A result settles only once its block's entries are written. */
export function ingestorWritesFirst<E>(options: IngestorSuiteOptions<E>): void {
  describe("writes before results", () => {
    const { start, count } = setup(options);

    it("settles each result only after every entry of its block was written", async () => {
      const { iterator, recorder } = await start(5);
      const settled: Pointer[] = [];
      for (let i = 0; i < count; i++) {
        const result = await nextResult(iterator);
        const unfinished = recorder.pendingBlocks.filter((block) => comparePointers(block, result.block) <= 0);
        expect(unfinished.map(pointerToHex), `writes still running when ${pointerToHex(result.block)} settled`).toEqual(
          [],
        );
        settled.push(result.block);
      }
      expect(recorder.written.length, "entries written").toBeGreaterThan(0);
      const settledAt = performance.now();
      await sleep(100);
      const late = recorder.written.filter(
        (w) => w.startedAt > settledAt && comparePointers(w.block, settled.at(-1) as Pointer) <= 0,
      );
      expect(
        late.map((w) => pointerToHex(w.block)),
        "writes for already settled blocks",
      ).toEqual([]);
    });
  });
}

/** Aborting ends the queue and the work behind it. */
export function ingestorAbort<E>(options: IngestorSuiteOptions<E>): void {
  describe("abort", () => {
    const { start } = setup(options);

    it("ends the queue promptly after its signal aborts and stops writing", async () => {
      const { controller, iterator, recorder } = await start();
      await nextResult(iterator);
      await nextResult(iterator);
      const abortedAt = performance.now();
      controller.abort(new Error("stop"));
      // Drain: the queue must end (results still buffered may be handed out or dropped).
      for (let i = 0; ; i++) {
        const step = await Promise.race([iterator.next(), sleep(2000).then(() => "timeout" as const)]);
        expect(step, "the queue kept waiting after abort").not.toBe("timeout");
        if (step !== "timeout" && step.done) break;
        expect(i, "results after abort").toBeLessThan(10_000);
      }
      expect(performance.now() - abortedAt, "ms until the queue ended").toBeLessThanOrEqual(2000);
      await sleep(200);
      const writes = recorder.written.length;
      await sleep(500);
      expect(recorder.written.length, "entries written after the abort settled").toBe(writes);
    });
  });
}

/** The result buffer holds back the ingestor when nobody consumes. */
export function ingestorBuffer<E>(options: IngestorSuiteOptions<E>): void {
  describe("buffer", () => {
    const { start } = setup(options);

    it("stops working ahead once its buffer is full", async () => {
      const bound = options.bound ?? 64;
      const inFlight = options.inFlight ?? 8;
      const { recorder } = await start();
      let previous = -1;
      for (let i = 0; i < 100 && recorder.distinctBlocks() !== previous; i++) {
        previous = recorder.distinctBlocks();
        await sleep(300);
      }
      expect(recorder.distinctBlocks(), "the ingestor kept working ahead").toBe(previous);
      expect(recorder.distinctBlocks(), "blocks processed without a consumer").toBeLessThanOrEqual(
        bound + inFlight + 1,
      );
    });
  });
}
