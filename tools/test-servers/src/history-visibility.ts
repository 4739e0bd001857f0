import { randomBytes } from "node:crypto";
import {
  type BlockRange,
  type HistoryCodec,
  type HistoryStore,
  isVisible,
  type Pointer,
  pointerFromNumber,
  type Visibility,
  visibilityOf,
} from "@tidemark/core";

/**
 * One history scenario every history store's tests run against their own
 * server: entries in several blocks, read under visibilities that hide
 * ranges at the start, in the middle and at the end, through every read
 * path, compared with what core's `isVisible` allows.
 */

/** An entry of the scenario: position `index` of block `block`, listed under `accounts`. */
export interface VisibilityEntry {
  readonly id: string;
  readonly block: number;
  readonly index: number;
  readonly accounts: readonly string[];
}

/** Block (8 bytes) then index (4 bytes), big-endian: byte order is chain order. */
export function visibilityOrderingKey(block: number, index: number): Uint8Array {
  const key = new Uint8Array(12);
  const view = new DataView(key.buffer);
  view.setBigUint64(0, BigInt(block));
  view.setUint32(8, index);
  return key;
}

export const visibilityCodec: HistoryCodec<VisibilityEntry> = {
  transactionId: (entry) => new TextEncoder().encode(entry.id),
  accounts: (entry) => entry.accounts,
  orderingKey: (entry) => visibilityOrderingKey(entry.block, entry.index),
  block: (entry) => pointerFromNumber(entry.block),
  encode: (entry) => new TextEncoder().encode(JSON.stringify(entry)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) as VisibilityEntry,
  reconcile: () => "keep",
};

/**
 * Blocks with gaps, as a chain's slots have. Their last bytes cross 0x7f/0x80
 * (a signed byte comparison would misorder them) and the blocks cross
 * DynamoDB's 10 000-block history partitions.
 */
const BLOCKS = [126, 127, 128, 129, 131, 9_998, 9_999, 10_000, 10_001, 10_002, 32_767, 32_768] as const;
const ENTRIES_PER_BLOCK = 3;

const p = (block: number): Pointer => pointerFromNumber(block);
/** A pointer that sorts right after `block`'s own and before the next block's: a longer one with the same prefix. */
const justAfter = (block: number, byte: number): Pointer => Uint8Array.from([...p(block), byte]);
const hide = (after: Pointer | null, through: Pointer): BlockRange => ({ after, through });

/** The visibilities read under, by name. */
const CASES: Readonly<Record<string, Visibility>> = {
  "one pointer, nothing hidden": { upTo: p(10_001), hidden: [] },
  "nothing committed": { upTo: null, hidden: [] },
  "nothing committed, a range hidden": { upTo: null, hidden: [hide(null, p(200))] },
  "hidden at the start": { upTo: p(40_000), hidden: [hide(null, p(128))] },
  "hidden in the middle": { upTo: p(40_000), hidden: [hide(p(128), p(10_000))] },
  "hidden at the end": { upTo: p(40_000), hidden: [hide(p(10_001), p(40_000))] },
  "hidden at the start, in the middle and at the end, bounds of other lengths": {
    upTo: p(32_767),
    hidden: [hide(null, p(126)), hide(justAfter(127, 0), justAfter(129, 0xff)), hide(p(9_999), p(10_001))],
  },
  "hidden only above the bound": { upTo: p(10_000), hidden: [hide(p(10_000), p(40_000))] },
  "bound inside a hidden range": { upTo: p(9_999), hidden: [hide(p(9_998), p(10_002))] },
  "every block hidden": { upTo: p(40_000), hidden: [hide(null, p(40_000))] },
  // Many unfinished partitions: more conditions than SQLite's expression depth allows, unless the store limits them.
  "a thousand hidden ranges, above every entry": {
    upTo: p(100_000),
    hidden: Array.from({ length: 1_000 }, (_, k) => hide(p(40_000 + 2 * k), p(40_001 + 2 * k))),
  },
  "from a partition plan": visibilityOf(p(32_768), [
    { after: p(127), through: p(9_999), committed: p(129) },
    { after: p(9_999), through: p(10_002), committed: null },
  ]),
};

/** The names of the scenario's cases, one test each. */
export const VISIBILITY_CASES: readonly string[] = Object.keys(CASES);

export interface VisibilityScenarioOptions {
  /**
   * A history store of `ingestor` (a fresh name) whose reads follow
   * `visibility`. Entry ids and accounts are unique to the scenario run, so
   * tables may be shared with other tests; a store that reads block ranges
   * from one global table (DynamoDB) needs a fresh one.
   */
  open(options: {
    ingestor: string;
    visibility: (signal?: AbortSignal) => Promise<Visibility>;
  }): HistoryStore<VisibilityEntry> | Promise<HistoryStore<VisibilityEntry>>;
}

export interface VisibilityScenario {
  /** Opens the store and writes the entries. */
  setup(): Promise<void>;
  /** Reads everything under the case's visibility; what differs from `isVisible`, one line each (empty when right). */
  check(name: string): Promise<string[]>;
  close(): Promise<void>;
}

export function historyVisibilityScenario(options: VisibilityScenarioOptions): VisibilityScenario {
  const tag = `vis-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const all = `${tag}-all`;
  const first = `${tag}-first`;
  const entries: VisibilityEntry[] = BLOCKS.flatMap((block) =>
    Array.from({ length: ENTRIES_PER_BLOCK }, (_, index) => ({
      id: `${tag}-${block}-${index}`,
      block,
      index,
      accounts: index === 0 ? [all, first] : [all],
    })),
  );
  let current: Visibility = { upTo: null, hidden: [] };
  let store: HistoryStore<VisibilityEntry> | undefined;
  const opened = () => {
    if (store === undefined) throw new Error("history visibility scenario: setup() first");
    return store;
  };

  return {
    async setup() {
      store = await options.open({ ingestor: tag, visibility: async () => current });
      const writing = store;
      await Promise.all(entries.map((entry) => writing.write(entry)));
    },
    async check(name) {
      const visibility = CASES[name];
      if (visibility === undefined) throw new Error(`history visibility scenario: no case "${name}"`);
      current = visibility;
      const reader = opened();
      const visible = entries.filter((entry) => isVisible(visibility, p(entry.block)));
      const problems = await Promise.all([
        ...entries.map((entry) => checkTransaction(reader, entry, visible.includes(entry))),
        checkUnknownTransaction(reader, tag),
        ...[1, 2, 5, undefined].flatMap((limit) =>
          (["asc", "desc"] as const).map((order) => checkPages(reader, all, order, limit, visible)),
        ),
        ...[1, 2].flatMap((limit) =>
          (["asc", "desc"] as const).map((order) => checkPages(reader, first, order, limit, visible)),
        ),
        ...entries
          .filter((entry) => entry.index === 1)
          .flatMap((entry) =>
            (["asc", "desc"] as const).map((order) => checkCursor(reader, all, order, entry, visible)),
          ),
        checkPages(reader, `${tag}-nobody`, "asc", 2, visible),
        ...rangeWindows().map(([from, to]) => checkRange(reader, from, to, visible)),
      ]);
      return problems.flat();
    },
    async close() {
      await store?.close();
    },
  };
}

const ids = (found: readonly VisibilityEntry[]) => found.map((entry) => `${entry.block}/${entry.index}`).join(" ");

function compare(what: string, found: readonly VisibilityEntry[], expected: readonly VisibilityEntry[]): string[] {
  const got = ids(found);
  const want = ids(expected);
  return got === want ? [] : [`${what}: got [${got}], expected [${want}]`];
}

function byKey(order: "asc" | "desc") {
  const sign = order === "asc" ? 1 : -1;
  return (a: VisibilityEntry, b: VisibilityEntry) =>
    sign * Buffer.compare(visibilityOrderingKey(a.block, a.index), visibilityOrderingKey(b.block, b.index));
}

async function checkTransaction(
  reader: HistoryStore<VisibilityEntry>,
  entry: VisibilityEntry,
  visible: boolean,
): Promise<string[]> {
  const found = await reader.getTransaction(visibilityCodec.transactionId(entry));
  return compare(`getTransaction(${entry.block}/${entry.index})`, found ? [found] : [], visible ? [entry] : []);
}

async function checkUnknownTransaction(reader: HistoryStore<VisibilityEntry>, tag: string): Promise<string[]> {
  const found = await reader.getTransaction(new TextEncoder().encode(`${tag}-unknown`));
  return compare("getTransaction(unknown)", found ? [found] : [], []);
}

/**
 * Pages through an account with cursors: together the pages are the visible
 * entries in order, each page but the last is full, the last one is not.
 */
async function checkPages(
  reader: HistoryStore<VisibilityEntry>,
  account: string,
  order: "asc" | "desc",
  limit: number | undefined,
  visible: readonly VisibilityEntry[],
): Promise<string[]> {
  const what = `getAccountHistory(${account.split("-").at(-1)}, ${order}, limit ${limit ?? "default"})`;
  const pageSize = limit ?? 100;
  const expected = visible.filter((entry) => entry.accounts.includes(account)).sort(byKey(order));
  const found: VisibilityEntry[] = [];
  const problems: string[] = [];
  let cursor: Uint8Array | undefined;
  for (let page = 0; page <= expected.length + 1; page++) {
    const entries = await reader.getAccountHistory(account, {
      order,
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    found.push(...entries);
    if (entries.length > pageSize) problems.push(`${what}: page ${page} holds ${entries.length} entries`);
    const last = entries.at(-1);
    if (entries.length < pageSize || last === undefined) {
      const full = found.length - entries.length;
      if (expected.length - full >= pageSize) {
        problems.push(`${what}: page ${page} holds ${entries.length} entries while more are visible`);
      }
      break;
    }
    cursor = visibilityCodec.orderingKey(last);
  }
  return [...problems, ...compare(what, found, expected)];
}

/** One page after (or before) the key of `from`, which may itself be hidden. */
async function checkCursor(
  reader: HistoryStore<VisibilityEntry>,
  account: string,
  order: "asc" | "desc",
  from: VisibilityEntry,
  visible: readonly VisibilityEntry[],
): Promise<string[]> {
  const cursor = visibilityCodec.orderingKey(from);
  const sort = byKey(order);
  const expected = visible
    .filter((entry) => entry.accounts.includes(account) && sort(entry, from) > 0)
    .sort(sort)
    .slice(0, 2);
  const found = await reader.getAccountHistory(account, { order, cursor, limit: 2 });
  return compare(`getAccountHistory(${order}, cursor ${from.block}/${from.index}, limit 2)`, found, expected);
}

/** Windows whose bounds fall on, between and around the blocks and the hidden ranges. */
function rangeWindows(): [number, number][] {
  const bounds = [0, 126, 128, 130, 9_999, 10_001, 32_768, 40_000];
  const windows: [number, number][] = [[10_002, 9_998]];
  for (const from of bounds) for (const to of bounds) if (from <= to) windows.push([from, to]);
  return windows;
}

async function checkRange(
  reader: HistoryStore<VisibilityEntry>,
  from: number,
  to: number,
  visible: readonly VisibilityEntry[],
): Promise<string[]> {
  const expected = visible.filter((entry) => entry.block >= from && entry.block <= to).sort(byKey("asc"));
  return compare(`getBlockRange(${from}, ${to})`, await reader.getBlockRange(p(from), p(to)), expected);
}
