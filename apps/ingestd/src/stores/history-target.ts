import type { HistoryCodec, HistoryStore } from "@tidemark/core";
import type { Entry } from "@tidemark/kin";
import { InvalidConfigError } from "../config-error.js";
import { openStore } from "./open-store.js";
import type { Store, StoreOptions, VisibleBlocks } from "./store.js";

/** Where a process's history goes: opened once, one history store per ingestor. */
export interface HistoryTarget {
  /** The history backend without credentials, for logs. */
  readonly label: string;
  /**
   * The history store of `ingestor`, its entries read and written through
   * `codec`. Its reads follow `ingestor`'s committed pointer, or
   * `options.visibility` when a backfill's partitions commit parts of it.
   */
  open<E extends Entry | Uint8Array>(
    ingestor: string,
    codec: HistoryCodec<E>,
    options?: { readonly visibility?: VisibleBlocks },
  ): HistoryStore<E>;
  /** Closes the backend if it is not the commit store itself (history stores are closed by their users). */
  close(): Promise<void>;
}

/**
 * The history of `store`'s ingestors at `historyUrl`: the commit store's own
 * history store when the URLs are the same, else another backend whose reads
 * follow the commit store's pointers. `options` are the history backend's
 * (`readOnly` for commands that only read).
 */
export async function openHistoryTarget(
  historyUrl: string,
  storeUrl: string,
  store: Store,
  options: StoreOptions = {},
): Promise<HistoryTarget> {
  if (historyUrl === storeUrl) {
    const open = store.openHistory?.bind(store);
    if (open === undefined) throw new InvalidConfigError("--history", `${store.label} keeps no history`);
    return {
      label: store.label,
      open: (ingestor, codec, { visibility } = {}) => open(ingestor, { codec, ...(visibility ? { visibility } : {}) }),
      close: async () => {},
    };
  }
  const backend = await openStore(historyUrl, { field: "--history", ...options });
  const open = backend.openHistory?.bind(backend);
  if (open === undefined) {
    await backend.close();
    throw new InvalidConfigError("--history", `${backend.label} keeps no history`);
  }
  return {
    label: backend.label,
    open: (ingestor, codec, { visibility } = {}) =>
      open(
        ingestor,
        visibility
          ? { codec, visibility }
          : { codec, committed: (signal) => store.committer.latest(ingestor, signal ? { signal } : {}) },
      ),
    close: () => backend.close(),
  };
}
