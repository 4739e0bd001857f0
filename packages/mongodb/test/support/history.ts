import { type KitEntry, kitCodec, uniqueName } from "@tidemark/conformance";
import {
  BackendUnavailableError,
  type HistoryCodec,
  isTidemarkError,
  type Pointer,
  pointerFromNumber,
  sleep,
} from "@tidemark/core";
import type { MongoClient } from "mongodb";
import { MongoCommitter, MongoHistoryStore, type MongoHistoryStoreOptions } from "../../src/index.js";

/** A store for a fresh ingestor, reading the committed pointer through a committer on the same client. */
export function historyStore<E = KitEntry>(
  client: MongoClient,
  options: Partial<Omit<MongoHistoryStoreOptions<E>, "client">> = {},
): { store: MongoHistoryStore<E>; ingestor: string; commit: (block: number | Pointer) => Promise<void> } {
  const ingestor = options.ingestor ?? uniqueName("history");
  const committer = new MongoCommitter({ client });
  const store = new MongoHistoryStore<E>({
    client,
    ingestor,
    codec: (options.codec ?? kitCodec) as HistoryCodec<E>,
    committed: (signal) => committer.latest(ingestor, { signal }),
    ...options,
  });
  const commit = async (block: number | Pointer) => {
    const pointer = typeof block === "number" ? pointerFromNumber(block) : block;
    await committer.reset(ingestor, await committer.latest(ingestor), pointer);
  };
  return { store, ingestor, commit };
}

/** A kit entry of `ingestor`, its accounts prefixed with the ingestor so that tests sharing a collection never meet. */
export function kitEntry(
  ingestor: string,
  block: number,
  index: number,
  accounts: readonly string[] = ["a"],
  extra: Partial<KitEntry> = {},
): KitEntry {
  return {
    id: `${ingestor}-${block}-${index}`,
    block,
    index,
    accounts: accounts.map((name) => `${ingestor}-${name}`),
    payload: `payload of ${block}/${index}`,
    revision: 0,
    ...extra,
  };
}

export const idOf = (entry: KitEntry): Uint8Array => new TextEncoder().encode(entry.id);
export const ids = (entries: readonly { id: string }[]): string[] => entries.map((entry) => entry.id);

/** How a promise ended: its value, or the error it rejected with. */
export function outcome<T>(attempt: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return attempt.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** Tries `attempt` again while it fails with BackendUnavailableError, as `run` would, for at most `withinMs`. */
export async function retrying<T>(attempt: () => Promise<T>, withinMs = 30_000): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTidemarkError(error, BackendUnavailableError) || performance.now() > deadline) throw error;
      await sleep(100);
    }
  }
}
