import type { Ingestor, Pointer } from "@tidemark/core";

/**
 * `--from`: when nothing is committed yet, ingest as if `pointer` were
 * committed (the block itself is skipped; the next one is the first). Nothing
 * is written for it: the first commit is accepted whatever its parent.
 */
export function startingAfter<E>(ingestor: Ingestor<E>, pointer: Pointer): Ingestor<E> {
  return {
    name: ingestor.name,
    ingest: (signal, writer, parent) => ingestor.ingest(signal, writer, parent ?? pointer),
    ...(ingestor.head
      ? { head: (signal: AbortSignal) => (ingestor.head as (s: AbortSignal) => Promise<Pointer>)(signal) }
      : {}),
  };
}
