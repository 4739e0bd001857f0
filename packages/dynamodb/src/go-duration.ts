/**
 * Go's `time.Duration` text format, which dynamolock stores in `leaseDuration`.
 * A Go reader runs `time.ParseDuration` on what we write, and we must honour
 * what a Go holder wrote ("30s", "1m30s", "1.5s"), so both directions follow
 * Go's rules exactly, on integer nanoseconds.
 */

const NS_PER_MS = 1_000_000n;
const MAX_NS = (1n << 63n) - 1n;

const UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n, // micro sign, what Go prints
  "\u03bcs": 1_000n, // Greek small letter mu, which Go also accepts
  ms: NS_PER_MS,
  s: 1_000n * NS_PER_MS,
  m: 60_000n * NS_PER_MS,
  h: 3_600_000n * NS_PER_MS,
};

/** Formats whole milliseconds as Go's `Duration.String()` would (`30000` → `"30s"`, `90000` → `"1m30s"`). */
export function formatGoDuration(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`duration must be a whole number of milliseconds, got ${ms}`);
  return formatNanoseconds(BigInt(ms) * NS_PER_MS);
}

/**
 * Parses a Go duration string into milliseconds (fractions kept). Throws a
 * `SyntaxError` on anything `time.ParseDuration` rejects.
 */
export function parseGoDuration(text: string): number {
  return Number(parseNanoseconds(text)) / 1e6;
}

function formatNanoseconds(ns: bigint): string {
  if (ns === 0n) return "0s";
  const negative = ns < 0n;
  let u = negative ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) out = `${fraction(u, 3)}\u00b5s`;
    else out = `${fraction(u, 6)}ms`;
  } else {
    out = `${fraction(u, 9)}s`;
    u /= 1_000_000_000n;
    const minutes = u / 60n;
    if (minutes > 0n) {
      out = `${minutes % 60n}m${out}`;
      const hours = minutes / 60n;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return negative ? `-${out}` : out;
}

/** `value` split at `digits` decimal places: the integer part, then the fraction without trailing zeros. */
function fraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  // Seconds are printed modulo 60 once minutes exist; Go does the same.
  const whole = digits === 9 ? (value / scale) % 60n : value / scale;
  const rest = (value % scale).toString().padStart(digits, "0").replace(/0+$/, "");
  return rest.length > 0 ? `${whole}.${rest}` : `${whole}`;
}

function parseNanoseconds(original: string): bigint {
  const invalid = () => new SyntaxError(`time: invalid duration ${JSON.stringify(original)}`);
  let s = original;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-");
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw invalid();
  let total = 0n;
  while (s.length > 0) {
    const number = /^(\d*)(?:\.(\d*))?/.exec(s);
    const integer = number?.[1] ?? "";
    const decimals = number?.[2];
    if (integer === "" && (decimals === undefined || decimals === "")) throw invalid();
    s = s.slice(number?.[0].length ?? 0);
    const unitText = /^[^\d.]+/.exec(s)?.[0];
    if (unitText === undefined) throw new SyntaxError(`time: missing unit in duration ${JSON.stringify(original)}`);
    const unit = UNITS[unitText];
    if (unit === undefined) {
      throw new SyntaxError(`time: unknown unit ${JSON.stringify(unitText)} in duration ${JSON.stringify(original)}`);
    }
    s = s.slice(unitText.length);
    let value = BigInt(integer === "" ? "0" : integer);
    if (value > MAX_NS / unit) throw invalid();
    value *= unit;
    if (decimals) {
      // Go converts the fraction through float64 and truncates; so do we.
      value += BigInt(Math.trunc(Number(`0.${decimals}`) * Number(unit)));
    }
    total += value;
    if (total > MAX_NS) throw invalid();
  }
  return negative ? -total : total;
}
