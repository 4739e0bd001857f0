/** A holding interval on the monotonic clock (performance.now() ms). */
export interface Interval {
  readonly holder: string;
  readonly start: number;
  readonly end: number;
}

/** Pairs of intervals that overlap; empty when holdings were mutually exclusive. */
export function overlaps(intervals: readonly Interval[]): [Interval, Interval][] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const found: [Interval, Interval][] = [];
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as Interval;
    const current = sorted[i] as Interval;
    if (current.start < previous.end) found.push([previous, current]);
  }
  return found;
}
