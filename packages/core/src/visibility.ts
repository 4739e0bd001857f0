import { InvalidArgumentError } from "./errors.js";
import { assertPointer, assertPointerOrNull, comparePointers, type Pointer } from "./pointer.js";

/** The blocks after `after` (exclusive; `null`: from the chain's start) up to `through` (inclusive). */
export interface BlockRange {
  readonly after: Pointer | null;
  readonly through: Pointer;
}

/** A range of blocks that its own ingestor commits (a backfill partition), and how far that got. */
export interface CommittedRange extends BlockRange {
  readonly committed: Pointer | null;
}

/**
 * Which blocks readers may see: those at or below `upTo` that no range of
 * `hidden` contains. One pointer (`hidden` empty) is the common case; ranges
 * committed by other ingestors, such as backfill partitions, add the hidden
 * ranges.
 */
export interface Visibility {
  readonly upTo: Pointer | null;
  readonly hidden: readonly BlockRange[];
}

/** Whether `block` is visible under `visibility`. */
export function isVisible(visibility: Visibility, block: Pointer): boolean {
  const { upTo, hidden } = visibility;
  if (upTo === null || comparePointers(block, upTo) > 0) return false;
  return !hidden.some((range) => inRange(range, block));
}

/** Whether `range` contains `block`. */
export function inRange(range: BlockRange, block: Pointer): boolean {
  return (
    (range.after === null || comparePointers(block, range.after) > 0) && comparePointers(block, range.through) <= 0
  );
}

/**
 * What readers may see when `ranges` are committed by their own ingestors
 * and everything else by the ingestor whose pointer is `main`: a block in a
 * range is visible when that range's pointer reached it, any other block
 * when `main` did. Ranges must not overlap; throws
 * {@link InvalidArgumentError} when they do.
 */
export function visibilityOf(main: Pointer | null, ranges: readonly CommittedRange[]): Visibility {
  assertPointerOrNull(main, "visibility: main pointer");
  for (const [i, range] of ranges.entries()) {
    assertPointerOrNull(range.after, `visibility: ranges[${i}].after`);
    assertPointer(range.through, `visibility: ranges[${i}].through`);
    assertPointerOrNull(range.committed, `visibility: ranges[${i}].committed`);
    if (range.after !== null && comparePointers(range.through, range.after) <= 0) {
      throw new InvalidArgumentError(`visibility: ranges[${i}] ends before it starts`);
    }
  }
  const sorted = [...ranges].sort((a, b) => compareAfter(a.after, b.after));
  for (let i = 1; i < sorted.length; i++) {
    if (compareAfter((sorted[i] as CommittedRange).after, (sorted[i - 1] as CommittedRange).through) < 0) {
      throw new InvalidArgumentError("visibility: two ranges overlap");
    }
  }
  let upTo = main;
  for (const range of sorted) upTo = maxPointer(upTo, range.committed);
  if (upTo === null) return { upTo: null, hidden: [] };
  const hidden: BlockRange[] = [];
  // Inside each range: whatever its own pointer has not reached.
  for (const range of sorted) {
    const seen = range.committed !== null && compareAfter(range.committed, range.after) > 0 ? range.committed : null;
    if (seen === null) hidden.push({ after: range.after, through: range.through });
    else if (comparePointers(seen, range.through) < 0) hidden.push({ after: seen, through: range.through });
  }
  // Outside the ranges: whatever lies beyond the main pointer, up to the bound.
  let cursor = main;
  for (const range of [...sorted, { after: upTo, through: upTo }]) {
    if (compareAfter(cursor, upTo) >= 0) break;
    if (compareAfter(range.after, cursor) > 0) {
      hidden.push({ after: cursor, through: minPointer(range.after as Pointer, upTo) });
    }
    cursor = maxPointer(cursor, range.through);
  }
  return { upTo, hidden: merged(hidden.sort((a, b) => compareAfter(a.after, b.after))) };
}

/**
 * `visibility` with at most `max` hidden ranges, for a store whose queries
 * cannot take more: past the limit, `upTo` drops to where the first range
 * that does not fit starts. It shows less, never more.
 */
export function limitHidden(visibility: Visibility, max: number): Visibility {
  if (!Number.isSafeInteger(max) || max < 1) throw new InvalidArgumentError(`visibility: max must be >= 1, got ${max}`);
  if (visibility.hidden.length <= max) return visibility;
  const sorted = [...visibility.hidden].sort((a, b) => compareAfter(a.after, b.after));
  const first = sorted[max - 1] as BlockRange;
  return { upTo: first.after, hidden: first.after === null ? [] : sorted.slice(0, max - 1) };
}

/** Sorted ranges with those that touch or overlap joined: a plan's unstarted partitions become one range. */
function merged(sorted: readonly BlockRange[]): BlockRange[] {
  const out: BlockRange[] = [];
  for (const range of sorted) {
    const last = out.at(-1);
    if (last !== undefined && compareAfter(range.after, last.through) <= 0) {
      if (comparePointers(range.through, last.through) > 0)
        out[out.length - 1] = { after: last.after, through: range.through };
    } else out.push(range);
  }
  return out;
}

/** Orders exclusive lower bounds, `null` (the chain's start) first. */
function compareAfter(a: Pointer | null, b: Pointer | null): number {
  if (a === null) return b === null ? 0 : -1;
  if (b === null) return 1;
  return comparePointers(a, b);
}

function maxPointer(a: Pointer | null, b: Pointer | null): Pointer | null {
  return compareAfter(a, b) >= 0 ? a : b;
}

function minPointer(a: Pointer, b: Pointer): Pointer {
  return comparePointers(a, b) <= 0 ? a : b;
}
