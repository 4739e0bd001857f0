import { DoubleInsertError, type HistoryStore, isTidemarkError, pointerFromNumber } from "@tidemark/core";
import { afterEach, describe, expect, it } from "vitest";
import { type KitEntry, kitCodec, kitOrderingKey } from "./kit-entries.js";
import { uniqueName } from "./names.js";
import type { HistoryStoreSuiteOptions } from "./options.js";
import { Resources } from "./resources.js";

/** Every history-store group in one `describe`. */
export function describeHistoryStore(name: string, options: HistoryStoreSuiteOptions): void {
  describe(`${name} history store`, () => {
    historyWrites(options);
    historyVisibility(options);
    historyReads(options);
    historyLimits(options);
    historyConcurrency(options);
  });
}

interface Fixture {
  readonly ingestor: string;
  readonly store: HistoryStore<KitEntry>;
  /** Entries of a test get accounts and ids of their own, so tests share one backend. */
  readonly account: (name: string) => string;
  readonly entry: (block: number, index: number, accounts: string[], extra?: Partial<KitEntry>) => KitEntry;
  readonly commit: (block: number) => Promise<void>;
}

function setup(options: HistoryStoreSuiteOptions) {
  const stores = new Resources<HistoryStore<KitEntry>>(async (store) => {
    await store.close();
    await options.destroy?.(store);
  });
  afterEach(() => stores.closeAll());
  const open = async (ingestor: string) => stores.add(await options.create({ ingestor, codec: kitCodec }));
  return {
    open,
    async fixture(prefix: string): Promise<Fixture> {
      const ingestor = uniqueName(prefix);
      return {
        ingestor,
        store: await open(ingestor),
        account: (name) => `${ingestor}-${name}`,
        entry: (block, index, accounts, extra = {}) => ({
          id: `${ingestor}-${block}-${index}`,
          block,
          index,
          accounts: accounts.map((name) => `${ingestor}-${name}`),
          payload: `payload of ${block}/${index}`,
          revision: 0,
          ...extra,
        }),
        commit: (block) => options.commit(ingestor, pointerFromNumber(block)),
      };
    },
  };
}

const ids = (entries: readonly KitEntry[]) => entries.map((entry) => entry.id);
const idOf = (entry: KitEntry) => new TextEncoder().encode(entry.id);

async function errorOf(attempt: Promise<unknown>): Promise<unknown> {
  return attempt.then(
    () => null,
    (error: unknown) => error,
  );
}

/** Idempotence and the double-insert rules. */
export function historyWrites(options: HistoryStoreSuiteOptions): void {
  describe("writes", () => {
    const { fixture } = setup(options);

    it("adds nothing when the same entry is written twice", async () => {
      const { store, entry, account, commit } = await fixture("twice");
      const first = entry(1, 0, ["a", "b"]);
      await store.write(first);
      await store.write(first);
      await store.write({ ...first });
      await commit(1);
      expect(ids(await store.getAccountHistory(account("a")))).toEqual([first.id]);
      expect(ids(await store.getAccountHistory(account("b")))).toEqual([first.id]);
      expect(ids(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(1)))).toEqual([first.id]);
    });

    it("rejects a double insert that contradicts the stored entry with DoubleInsertError, changing nothing", async () => {
      const { store, entry, account, commit } = await fixture("contradiction");
      const first = entry(1, 0, ["a"]);
      await store.write(first);
      const error = await errorOf(store.write({ ...first, payload: "something else", accounts: [account("z")] }));
      expect(isTidemarkError(error, DoubleInsertError), String(error)).toBe(true);
      await commit(1);
      expect(await store.getTransaction(idOf(first))).toEqual(first);
      expect(await store.getAccountHistory(account("z")), "the contradicting entry's account").toEqual([]);
    });

    it("replaces a stored entry when the codec says the new one supersedes it, everywhere", async () => {
      const { store, entry, account, commit } = await fixture("replace");
      const first = entry(1, 0, ["a"]);
      await store.write(first);
      const newer = { ...first, revision: 1 };
      await store.write(newer);
      // An older version arriving late does not win back.
      await store.write(first);
      await commit(1);
      expect(await store.getTransaction(idOf(first))).toEqual(newer);
      expect(await store.getAccountHistory(account("a"))).toEqual([newer]);
      expect(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(1))).toEqual([newer]);
    });

    it("leaves nothing visible of a write whose signal was aborted", async () => {
      const { store, entry, account, commit } = await fixture("aborted");
      const doomed = entry(1, 0, ["a", "b", "c"]);
      await expect(store.write(doomed, { signal: AbortSignal.abort(new Error("stop")) })).rejects.toThrow("stop");
      await commit(1);
      expect(await store.getTransaction(idOf(doomed))).toBeNull();
      for (const name of ["a", "b", "c"]) expect(await store.getAccountHistory(account(name))).toEqual([]);
    });
  });
}

/** Entries above the committed pointer are invisible. */
export function historyVisibility(options: HistoryStoreSuiteOptions): void {
  describe("visibility", () => {
    const { fixture } = setup(options);

    it("hides entries above the committed pointer and shows them once it moves", async () => {
      const { store, entry, account, commit } = await fixture("visibility");
      const entries = [entry(1, 0, ["a"]), entry(2, 0, ["a"]), entry(3, 0, ["a"])];
      for (const e of entries) await store.write(e);
      expect(await store.getAccountHistory(account("a")), "nothing committed").toEqual([]);
      expect(await store.getTransaction(idOf(entries[0] as KitEntry)), "nothing committed").toBeNull();
      await commit(2);
      expect(ids(await store.getAccountHistory(account("a")))).toEqual(ids(entries.slice(0, 2)));
      expect(await store.getTransaction(idOf(entries[2] as KitEntry)), "block 3 above the pointer").toBeNull();
      expect(ids(await store.getBlockRange(pointerFromNumber(1), pointerFromNumber(3)))).toEqual(
        ids(entries.slice(0, 2)),
      );
      await commit(3);
      expect(ids(await store.getAccountHistory(account("a")))).toEqual(ids(entries));
      expect(await store.getTransaction(idOf(entries[2] as KitEntry))).toEqual(entries[2]);
    });
  });
}

/** Pagination, ranges, unknown keys. */
export function historyReads(options: HistoryStoreSuiteOptions): void {
  describe("reads", () => {
    const { fixture } = setup(options);

    it("pages an account ascending and descending with cursors: every entry exactly once, blocks shared", async () => {
      const { store, entry, account, commit } = await fixture("pages");
      const entries: KitEntry[] = [];
      for (let block = 1; block <= 9; block++) {
        for (let index = 0; index < 1 + (block % 4); index++) entries.push(entry(block, index, ["a"]));
      }
      // Written out of order, as concurrent blocks are.
      for (const e of [...entries].reverse()) await store.write(e);
      await commit(9);
      for (const order of ["asc", "desc"] as const) {
        for (const limit of [1, 3, 7, 100]) {
          const seen: KitEntry[] = [];
          let cursor: Uint8Array | undefined;
          for (let page = 0; page < 100; page++) {
            const got = await store.getAccountHistory(account("a"), { order, limit, ...(cursor ? { cursor } : {}) });
            expect(got.length, `${order} page of at most ${limit}`).toBeLessThanOrEqual(limit);
            if (got.length === 0) break;
            seen.push(...got);
            const last = got.at(-1) as KitEntry;
            cursor = kitOrderingKey(last.block, last.index);
          }
          const expected = order === "asc" ? ids(entries) : ids(entries).reverse();
          expect(ids(seen), `${order} with limit ${limit}`).toEqual(expected);
        }
      }
    });

    it("returns block ranges in order, and nothing for unknown accounts and transactions", async () => {
      const { store, entry, account, commit } = await fixture("ranges");
      const entries = [entry(5, 1, ["a"]), entry(5, 0, ["b"]), entry(6, 0, ["a"]), entry(8, 2, ["c"])];
      for (const e of entries) await store.write(e);
      await commit(8);
      expect(ids(await store.getBlockRange(pointerFromNumber(5), pointerFromNumber(6)))).toEqual([
        entries[1]?.id,
        entries[0]?.id,
        entries[2]?.id,
      ]);
      expect(ids(await store.getBlockRange(pointerFromNumber(7), pointerFromNumber(8)))).toEqual([entries[3]?.id]);
      expect(await store.getBlockRange(pointerFromNumber(9), pointerFromNumber(20))).toEqual([]);
      expect(await store.getAccountHistory(account("nobody"))).toEqual([]);
      expect(await store.getTransaction(new TextEncoder().encode(`${account("no-such-tx")}`))).toBeNull();
    });
  });
}

/** What one backend request cannot hold. */
export function historyLimits(options: HistoryStoreSuiteOptions): void {
  describe("limits", () => {
    const { fixture } = setup(options);

    it("lists an entry under more accounts than one backend request holds", async () => {
      const { store, entry, account, commit } = await fixture("accounts");
      const count = options.manyAccounts ?? 60;
      const names = Array.from({ length: count }, (_, i) => `acct-${i}`);
      const wide = entry(1, 0, names);
      await store.write(wide);
      await commit(1);
      for (const name of names) expect(ids(await store.getAccountHistory(account(name))), name).toEqual([wide.id]);
    });

    it("stores and reads back the largest entry the backend allows", async () => {
      const { store, entry, account, commit } = await fixture("large");
      const bytes = options.largestEntryBytes ?? 64 * 1024;
      const base = entry(1, 0, ["a"]);
      const overhead = kitCodec.encode(base).length - base.payload.length;
      const large = { ...base, payload: "x".repeat(bytes - overhead) };
      expect(kitCodec.encode(large).length).toBe(bytes);
      await store.write(large);
      await commit(1);
      expect(await store.getTransaction(idOf(large))).toEqual(large);
      expect(await store.getAccountHistory(account("a"))).toEqual([large]);
    });
  });
}

/** Two writers on the same blocks, as after a takeover. */
export function historyConcurrency(options: HistoryStoreSuiteOptions): void {
  describe("concurrency", () => {
    const { fixture, open } = setup(options);

    it("stores every entry exactly once when two writers write the same blocks at once", async () => {
      const { store, entry, account, commit, ingestor } = await fixture("two-writers");
      const other = await open(ingestor);
      const entries: KitEntry[] = [];
      for (let block = 1; block <= 20; block++) {
        for (let index = 0; index < 3; index++) entries.push(entry(block, index, ["shared", `only-${index}`]));
      }
      await Promise.all([
        Promise.all(entries.map((e) => store.write(e))),
        Promise.all([...entries].reverse().map((e) => other.write(e))),
      ]);
      await commit(20);
      expect(ids(await store.getAccountHistory(account("shared"), { limit: 1000 }))).toEqual(ids(entries));
      expect(ids(await other.getBlockRange(pointerFromNumber(1), pointerFromNumber(20)))).toEqual(ids(entries));
      for (let index = 0; index < 3; index++) {
        expect((await store.getAccountHistory(account(`only-${index}`), { limit: 1000 })).length).toBe(20);
      }
    });
  });
}
