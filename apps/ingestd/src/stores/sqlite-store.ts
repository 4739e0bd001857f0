import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type Committer, ConfigurationError, type HistoryStore, InvalidArgumentError } from "@tidemark/core";
import { kinHistoryCodec } from "@tidemark/kin";
import { SqliteCommitter, SqliteHistoryStore, SqliteLock } from "@tidemark/sqlite";
import { lockRegistry } from "./lock-registry.js";
import type { Store, StoreOptions } from "./store.js";

/**
 * `sqlite:PATH`: commits, locks and history in one local file (the embedded
 * default). The file is created by the first part that is used, not on open:
 * a service whose remote commit store fails before it ingests anything leaves
 * no empty history file behind. `readOnly` opens an existing file only.
 */
export function openSqliteStore(url: string, options: StoreOptions): Store {
  const path = url.slice("sqlite:".length);
  const readOnly = options.readOnly === true;
  checkPath(path, readOnly);
  const source = { path, ...(readOnly ? { readOnly } : {}) };
  let committer: SqliteCommitter | undefined;
  const committerOf = () => {
    committer ??= new SqliteCommitter(source);
    return committer;
  };
  const { createLock, closeLocks } = lockRegistry(options, (settings) => new SqliteLock({ ...source, ...settings }));
  return {
    label: url,
    get committer(): Committer {
      return committerOf();
    },
    createLock,
    // Without an outside pointer, reads join this file's commit table in the same statement.
    openHistory: (ingestor, { codec, committed, visibility }) =>
      lazyHistoryStore(
        () =>
          new SqliteHistoryStore({
            ...source,
            codec,
            ingestor,
            ...(committed ? { committed } : {}),
            ...(visibility ? { visibility } : {}),
          }),
      ),
    // Opening creates each part's tables when it is first used; `store init` creates them all at once.
    init: async () => {
      committerOf();
      await new SqliteHistoryStore({ path, codec: kinHistoryCodec, ingestor: "history_KIN4" }).close();
      await new SqliteLock({ path, key: "tidemark_store_init" }).close();
    },
    async close() {
      await closeLocks();
      await committer?.close();
    },
  };
}

/**
 * Refuses, before anything exists, a file that cannot be: a missing one when
 * only reading, or one whose directory is missing or not writable.
 */
function checkPath(path: string, readOnly: boolean): void {
  let exists: boolean;
  try {
    exists = statSync(path).isFile() || fail(`"${path}" is not a file`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    exists = false;
  }
  if (exists) return;
  if (readOnly) {
    throw new ConfigurationError(
      `no such database file "${path}" (${resolve(path)}): commands that only read never create one; check the path`,
    );
  }
  try {
    accessSync(dirname(resolve(path)), constants.W_OK);
  } catch (error) {
    fail(`cannot create "${path}": its directory ${describeAccess(error)}`);
  }
}

function describeAccess(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not writable" : `is unusable (${code})`;
}

function fail(problem: string): never {
  throw new ConfigurationError(`sqlite: ${problem}`);
}

/** A history store opened on first use, so merely preparing to write creates no file. */
function lazyHistoryStore<E>(open: () => HistoryStore<E>): HistoryStore<E> {
  let store: HistoryStore<E> | undefined;
  let closed = false;
  const use = () => {
    if (closed) throw new InvalidArgumentError("sqlite history store: used after close");
    store ??= open();
    return store;
  };
  return {
    write: async (entry, writeOptions) => use().write(entry, writeOptions),
    getTransaction: async (id) => use().getTransaction(id),
    getAccountHistory: async (account, query) => use().getAccountHistory(account, query),
    getBlockRange: async (from, to) => use().getBlockRange(from, to),
    async close() {
      closed = true;
      await store?.close();
    },
  };
}
