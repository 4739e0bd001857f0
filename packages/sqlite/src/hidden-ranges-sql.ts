import {
  assertPointer,
  assertPointerOrNull,
  type BlockRange,
  comparePointers,
  limitHidden,
  type Pointer,
  type Visibility,
} from "@tidemark/core";

/**
 * A visibility as statement parameters: `committed` is its bound, and each
 * hidden range that matters below it becomes `:hidden_after_N` (unless it
 * starts at the chain's start) and `:hidden_through_N`. `shape` tells
 * statements with different conditions apart: empty when nothing is hidden,
 * which is exactly the single-pointer statement.
 */
export interface HiddenRangesParameters {
  readonly shape: string;
  readonly parameters: Record<string, Pointer | null>;
}

/**
 * The most hidden ranges a statement gets: SQLite refuses expression trees
 * deeper than 1,000, and each range deepens it. Past them, core's
 * `limitHidden` lowers the bound instead (showing less, never more).
 */
export const MAX_HIDDEN_RANGES = 200;

export function hiddenRangesParameters(visibility: Visibility, what: string): HiddenRangesParameters {
  const { upTo, hidden } = limitHidden(visibility, MAX_HIDDEN_RANGES);
  assertPointerOrNull(upTo, `${what}: visibility.upTo`);
  const parameters: Record<string, Pointer | null> = { committed: upTo };
  if (upTo === null) return { shape: "", parameters };
  let shape = "";
  for (const [i, range] of hidden.entries()) {
    checkRange(range, i, what);
    // A range that starts at or above the bound hides nothing the bound does not already hide.
    if (range.after !== null && comparePointers(range.after, upTo) >= 0) continue;
    const n = shape.length;
    if (range.after === null) shape += "n";
    else {
      shape += "a";
      parameters[`hidden_after_${n}`] = range.after;
    }
    parameters[`hidden_through_${n}`] = range.through;
  }
  return { shape, parameters };
}

/** The conditions that leave out the hidden ranges of `shape` on `column` (empty for the empty shape). */
export function hiddenRangesSql(column: string, shape: string): string {
  let sql = "";
  for (let n = 0; n < shape.length; n++) {
    const through = `${column} <= :hidden_through_${n}`;
    sql += shape[n] === "n" ? ` AND NOT (${through})` : ` AND NOT (${column} > :hidden_after_${n} AND ${through})`;
  }
  return sql;
}

function checkRange(range: BlockRange, i: number, what: string): void {
  assertPointerOrNull(range?.after, `${what}: visibility.hidden[${i}].after`);
  assertPointer(range.through, `${what}: visibility.hidden[${i}].through`);
}
