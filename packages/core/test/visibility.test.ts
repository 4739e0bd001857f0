import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../src/errors.js";
import { pointerFromNumber } from "../src/pointer.js";
import { type CommittedRange, isVisible, limitHidden, visibilityOf } from "../src/visibility.js";

const p = (n: number) => pointerFromNumber(n);
const range = (after: number | null, through: number, committed: number | null): CommittedRange => ({
  after: after === null ? null : p(after),
  through: p(through),
  committed: committed === null ? null : p(committed),
});

/** The rule spelled out block by block: a range's own pointer inside it, the main pointer elsewhere. */
function expected(main: number | null, ranges: CommittedRange[], block: number): boolean {
  const num = (x: Uint8Array | null) => (x === null ? -1 : Number(Buffer.from(x).readBigUInt64BE()));
  const covering = ranges.find((r) => block > num(r.after) && block <= num(r.through));
  const bound = covering ? num(covering.committed) : (main ?? -1);
  return block <= bound;
}

describe("visibilityOf", () => {
  it("is one pointer when nothing else commits", () => {
    const v = visibilityOf(p(7), []);
    expect(v.hidden).toEqual([]);
    expect(isVisible(v, p(7))).toBe(true);
    expect(isVisible(v, p(8))).toBe(false);
    expect(isVisible(visibilityOf(null, []), p(0))).toBe(false);
  });

  it("shows a range's blocks up to its own pointer and every other block up to the main pointer", () => {
    const ranges = [range(null, 9, 4), range(9, 19, null), range(19, 29, 29), range(39, 49, 44)];
    for (const main of [null, 3, 25, 35, 60]) {
      const v = visibilityOf(main === null ? null : p(main), ranges);
      for (let block = 0; block <= 70; block++) {
        expect(isVisible(v, p(block)), `main ${main}, block ${block}`).toBe(expected(main, ranges, block));
      }
    }
  });

  it("agrees with the rule on random plans", () => {
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const ranges: CommittedRange[] = [];
      let at = next(5) - 1;
      for (let i = next(4); i > 0; i--) {
        const after = at + next(6);
        const through = after + 1 + next(10);
        const committed = next(3) === 0 ? null : after + next(through - after + 3);
        ranges.push(range(after < 0 ? null : after, through, committed === null || committed < 0 ? null : committed));
        at = through;
      }
      const main = next(4) === 0 ? null : next(at + 8);
      const v = visibilityOf(main === null ? null : p(main), ranges);
      for (let block = 0; block <= at + 10; block++) {
        expect(isVisible(v, p(block)), `round ${round}, block ${block}`).toBe(expected(main, ranges, block));
      }
    }
  });

  it("rejects ranges that overlap or end before they start", () => {
    expect(() => visibilityOf(p(1), [range(0, 10, null), range(5, 20, null)])).toThrow(InvalidArgumentError);
    expect(() => visibilityOf(p(1), [range(10, 10, null)])).toThrow(/ends before it starts/);
  });
});

describe("hidden ranges", () => {
  it("are joined where they touch, so a plan's unstarted partitions cost one range", () => {
    const ranges = Array.from({ length: 1_500 }, (_, i) => range(i * 10, i * 10 + 10, i === 700 ? i * 10 + 5 : null));
    const v = visibilityOf(p(20_000), ranges);
    // Everything unstarted before and after the one partition under way, plus that partition's rest.
    expect(v.hidden).toHaveLength(2);
    expect(isVisible(v, p(7_005))).toBe(true);
    expect(isVisible(v, p(7_006))).toBe(false);
    expect(isVisible(v, p(6_999))).toBe(false);
    expect(isVisible(v, p(15_001))).toBe(true);
  });

  it("are cut to what a store can take by lowering the bound, showing less and never more", () => {
    // Every other partition half done: 1,000 ranges that cannot be joined.
    const ranges = Array.from({ length: 1_000 }, (_, i) => range(i * 10, i * 10 + 10, i * 10 + 5));
    const v = visibilityOf(p(20_000), ranges);
    expect(v.hidden).toHaveLength(1_000);
    const limited = limitHidden(v, 100);
    expect(limited.hidden).toHaveLength(99);
    for (let block = 0; block <= 10_010; block += 1) {
      if (isVisible(limited, p(block))) expect(isVisible(v, p(block)), `block ${block}`).toBe(true);
    }
    expect(isVisible(limited, p(985))).toBe(true);
    expect(isVisible(limited, p(995))).toBe(true);
    expect(isVisible(limited, p(996))).toBe(false);
    expect(isVisible(v, p(1_005))).toBe(true);
    expect(isVisible(limited, p(1_005))).toBe(false);
    expect(limitHidden(v, 1_000)).toBe(v);
    expect(() => limitHidden(v, 0)).toThrow(InvalidArgumentError);
  });
});
