// Go's time.Duration text, both ways: a Go node parses what we write, and we honour what it wrote.
import { describe, expect, it } from "vitest";
import { formatGoDuration, parseGoDuration } from "../src/index.js";

describe("formatGoDuration, as Go's Duration.String()", () => {
  it.each([
    [0, "0s"],
    [1, "1ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [30_000, "30s"],
    [90_000, "1m30s"],
    [120_000, "2m0s"],
    [3_600_000, "1h0m0s"],
    [5_400_500, "1h30m0.5s"],
    [-1500, "-1.5s"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBe(ms);
  });

  it("refuses fractions of a millisecond", () => {
    expect(() => formatGoDuration(1.5)).toThrow(RangeError);
  });
});

describe("parseGoDuration, as Go's time.ParseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["300ms", 300],
    ["1.5h", 5_400_000],
    ["2h45m", 9_900_000],
    ["1h2m3.5s", 3_723_500],
    ["+5s", 5000],
    ["-5s", -5000],
    ["0", 0],
    ["-0", 0],
    [".5s", 500],
    ["5.s", 5000],
    ["1us", 0.001],
    ["1\u00b5s", 0.001],
    ["1\u03bcs", 0.001],
    ["100ns", 0.0001],
  ])("%s is %d ms", (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(["", "30", "s", "1x", ".s", "-", "1s2", " 1s", "1 s", "1S", "9999999999h"])("rejects %j", (text) => {
    expect(() => parseGoDuration(text)).toThrow(SyntaxError);
  });
});
