import type { Ingestor, Pointer, Result, Writer } from "@tidemark/core";
import type { Entry } from "../../src/index.js";

/** Every entry written, in write order. */
export class ArrayWriter implements Writer<Entry> {
  readonly entries: Entry[] = [];
  async write(entry: Entry): Promise<void> {
    this.entries.push(entry);
  }
}

export interface Collected {
  readonly results: Result[];
  readonly entries: Entry[];
  /** Set when the queue itself failed (a rejected result promise). */
  readonly failure?: unknown;
}

/**
 * Runs `ingestor` from `parent` and reads results until `done` says so (or the
 * queue ends or fails), then aborts it and waits for the queue to drain.
 */
export async function collect(
  ingestor: Ingestor<Entry>,
  parent: Pointer | null,
  done: (result: Result, results: readonly Result[]) => boolean,
  writer: ArrayWriter = new ArrayWriter(),
): Promise<Collected> {
  const controller = new AbortController();
  const queue = await ingestor.ingest(controller.signal, writer, parent);
  const iterator = queue[Symbol.asyncIterator]();
  const results: Result[] = [];
  let failure: unknown;
  try {
    while (true) {
      const step = await iterator.next();
      if (step.done) break;
      let result: Result;
      try {
        result = await step.value;
      } catch (error) {
        failure = error;
        break;
      }
      results.push(result);
      if (done(result, results)) break;
    }
  } finally {
    controller.abort(new Error("collected"));
    await iterator.return?.();
  }
  return { results, entries: writer.entries, ...(failure === undefined ? {} : { failure }) };
}

/** Reads exactly `count` results. */
export function first(count: number): (result: Result, results: readonly Result[]) => boolean {
  return (_result, results) => results.length >= count;
}
