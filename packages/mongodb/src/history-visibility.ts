import { assertPointer, assertPointerOrNull, comparePointers, type Visibility } from "@tidemark/core";
import type { Filter } from "mongodb";
import { type HistoryDocument, toHex } from "./history-records.js";

/**
 * A visibility as the hex `block` field is compared with: `upTo` is the
 * bound, `hidden` the part of a filter that leaves out the hidden ranges.
 * With nothing hidden, `hidden` is empty and the filter is exactly the
 * single-pointer one. Hex under the simple collation orders as the bytes do,
 * a shorter prefix first: the order of pointers.
 */
export interface VisibleBlocks {
  readonly upTo: string;
  readonly hidden: Filter<HistoryDocument>;
}

/** Null when nothing is visible (`upTo` null). */
export function visibleBlocks(visibility: Visibility, what: string): VisibleBlocks | null {
  const { upTo, hidden } = visibility;
  assertPointerOrNull(upTo, `${what}: the committed pointer`);
  if (upTo === null) return null;
  const excluded: Filter<HistoryDocument>[] = [];
  for (const [i, range] of hidden.entries()) {
    assertPointerOrNull(range?.after, `${what}: visibility.hidden[${i}].after`);
    assertPointer(range.through, `${what}: visibility.hidden[${i}].through`);
    // A range that starts at or above the bound hides nothing the bound does not already hide.
    if (range.after !== null && comparePointers(range.after, upTo) >= 0) continue;
    const through = toHex(range.through);
    excluded.push({ block: range.after === null ? { $lte: through } : { $gt: toHex(range.after), $lte: through } });
  }
  return { upTo: toHex(upTo), hidden: excluded.length === 0 ? {} : { $nor: excluded } };
}
