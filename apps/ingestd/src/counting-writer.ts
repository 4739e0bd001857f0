import type { WriteOptions, Writer } from "@tidemark/core";

/** Counts entries as they are written, for the status line's transactions per second. */
export function countingWriter<E>(writer: Writer<E>, count: () => void): Writer<E> {
  return {
    async write(entry: E, options?: WriteOptions) {
      await writer.write(entry, options);
      count();
    },
  };
}
