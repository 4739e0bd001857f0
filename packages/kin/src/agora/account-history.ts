import { comparePointers, type HistoryReader } from "@tidemark/core";
import { type Entry, KinVersion } from "../gen/model_pb.js";
import { solanaPointer, stellarPointer } from "../model/pointer.js";
import type { PageStart } from "./cursor.js";
import { type PageItem, pageItemOf } from "./page-item.js";
import { invalidArgument } from "./request-errors.js";

/** agora's page size, and the most a GetHistory response carries. */
export const PAGE_SIZE = 100;

/**
 * A history reader of Kin entries, decoded or as stored (`encodeEntry`'s
 * bytes, e.g. through core's `encodedCodec`, which pages are served from
 * without decoding them).
 */
export type KinHistoryReader = HistoryReader<Entry | Uint8Array>;

/** One place an account's entries are kept: a history reader and the keys the account is listed under there. */
export interface HistorySource {
  readonly reader: KinHistoryReader;
  readonly keys: readonly string[];
}

/**
 * One page of an account's history across its sources, in ordering-key order,
 * as agora's loader pages it: at most {@link PAGE_SIZE} entries, from the
 * oldest (ascending) or the newest (descending) unless `start` says where to
 * continue. Like agora, the page is read from `start` inclusive and the entry
 * at `start` is then dropped. Otherwise `start` is a position, as agora uses
 * every cursor (a Kin3 cursor kept past the move to Kin4, or one older than
 * the ingested history): the page continues after it, across versions in
 * ordering-key order. Only an agora cursor naming an entry that `readerOf`
 * its version holds, of another account then, is refused.
 */
export async function accountPage(
  sources: readonly HistorySource[],
  order: "asc" | "desc",
  start: PageStart | undefined,
  readerOf: (version: KinVersion) => KinHistoryReader | undefined,
): Promise<PageItem[]> {
  const cursor = start === undefined ? undefined : inclusiveCursor(start.orderingKey, order);
  // One more than a page: the entry at `start` comes back too.
  const limit = start === undefined ? PAGE_SIZE : PAGE_SIZE + 1;
  const reads = sources.flatMap(({ reader, keys }) =>
    keys.map((key) => reader.getAccountHistory(key, { order, limit, ...(cursor ? { cursor } : {}) })),
  );
  const merged = mergePages(await Promise.all(reads), order);
  if (start !== undefined) {
    const first = merged[0];
    const atStart = first !== undefined && comparePointers(first.orderingKey, start.orderingKey) === 0;
    if (atStart) merged.shift();
    else if (start.kind === "agora" && (await entryExists(start.orderingKey, readerOf))) {
      throw invalidArgument("cursor.value", "is not a cursor of account_id's history");
    }
  }
  return merged.slice(0, PAGE_SIZE);
}

/**
 * Whether the reader of `key`'s Kin version holds an entry with exactly this
 * ordering key, found through the block the key names (a Solana key carries
 * its slot, a Stellar key its paging token, whose high 32 bits are the ledger).
 */
async function entryExists(
  key: Uint8Array,
  readerOf: (version: KinVersion) => KinHistoryReader | undefined,
): Promise<boolean> {
  const version = key[0] as KinVersion;
  const reader = readerOf(version);
  if (reader === undefined) return false;
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const block =
    version === KinVersion.KIN4
      ? solanaPointer(view.getBigUint64(1))
      : stellarPointer(version, view.getBigUint64(1) >> 32n);
  const entries = await reader.getBlockRange(block, block);
  return entries.some((entry) => comparePointers(pageItemOf(entry).orderingKey, key) === 0);
}

/**
 * The exclusive store cursor that starts a read at `key` itself. Ordering keys
 * of one Kin version have one length, so in ascending order the key just
 * below `key` of the same length does it; in descending order, `key` followed
 * by a zero byte (the least key above it).
 */
function inclusiveCursor(key: Uint8Array, order: "asc" | "desc"): Uint8Array | undefined {
  if (order === "desc") {
    const above = new Uint8Array(key.length + 1);
    above.set(key);
    return above;
  }
  // A copy, also when `key` is a Buffer (whose slice() is a view of the request).
  const below = new Uint8Array(key);
  for (let i = below.length - 1; i >= 0; i--) {
    if (below[i] !== 0) {
      below[i] = (below[i] as number) - 1;
      return below;
    }
    below[i] = 0xff;
  }
  // An all-zero key: nothing lies below it, so read from the start.
  return undefined;
}

/**
 * Several reads, each sorted in `order`, as one: merged, and each transaction
 * once (an entry is often listed under several keys, so read more than once).
 */
function mergePages(pages: readonly (readonly (Entry | Uint8Array)[])[], order: "asc" | "desc"): PageItem[] {
  const sign = order === "asc" ? 1 : -1;
  const before = (a: PageItem, b: PageItem) =>
    sign * (comparePointers(a.orderingKey, b.orderingKey) || Buffer.compare(a.id, b.id)) < 0;
  const heads = pages.map((page) => ({
    page,
    next: 0,
    item: page.length > 0 ? pageItemOf(page[0] as Entry | Uint8Array) : undefined,
  }));
  const merged: PageItem[] = [];
  while (true) {
    let least: (typeof heads)[number] | undefined;
    for (const head of heads) {
      if (head.item !== undefined && (least?.item === undefined || before(head.item, least.item))) least = head;
    }
    const item = least?.item;
    if (least === undefined || item === undefined) return merged;
    if (!listed(merged, item)) merged.push(item);
    least.next++;
    const entry = least.page[least.next];
    least.item = entry === undefined ? undefined : pageItemOf(entry);
  }
}

/** Whether `item` is already in `merged`, where entries of its ordering key are the last ones. */
function listed(merged: readonly PageItem[], item: PageItem): boolean {
  for (let i = merged.length - 1; i >= 0; i--) {
    const other = merged[i] as PageItem;
    if (comparePointers(other.orderingKey, item.orderingKey) !== 0) return false;
    if (Buffer.compare(other.id, item.id) === 0) return true;
  }
  return false;
}
