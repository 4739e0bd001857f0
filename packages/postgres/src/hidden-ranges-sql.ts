import { assertPointer, assertPointerOrNull, type BlockRange, comparePointers, type Pointer } from "@tidemark/core";

/** The most hidden ranges a statement gets; core's `limitHidden` lowers the bound past them. */
export const MAX_HIDDEN_RANGES = 200;

/**
 * The conditions that leave out `hidden` below `upTo`: their bounds are
 * appended to `params`, and the result writes the conditions for a column
 * (`block`, `h.block`). Nothing hidden gives the empty string, so the
 * statement is exactly the single-pointer one. bytea compares as unsigned
 * bytes, a shorter prefix first: the order of pointers.
 */
export function hiddenRangesSql(
  hidden: readonly BlockRange[],
  upTo: Pointer,
  params: unknown[],
  what: string,
): (column: string) => string {
  const ranges: { after: number | null; through: number }[] = [];
  for (const [i, range] of hidden.entries()) {
    assertPointerOrNull(range?.after, `${what}: visibility.hidden[${i}].after`);
    assertPointer(range.through, `${what}: visibility.hidden[${i}].through`);
    // A range that starts at or above the bound hides nothing the bound does not already hide.
    if (range.after !== null && comparePointers(range.after, upTo) >= 0) continue;
    let after: number | null = null;
    if (range.after !== null) after = params.push(range.after);
    ranges.push({ after, through: params.push(range.through) });
  }
  return (column) =>
    ranges
      .map(({ after, through }) =>
        after === null
          ? ` AND NOT (${column} <= $${through})`
          : ` AND NOT (${column} > $${after} AND ${column} <= $${through})`,
      )
      .join("");
}
