import { InvalidArgumentError } from "./errors.js";

/**
 * A position in a chain, as the bytes a committer stores. Pointers compare
 * lexicographically as unsigned bytes, a shorter prefix sorting first, so an
 * ingestor must encode them such that byte order is chain order (big-endian).
 * `null` stands for "nothing committed yet".
 */
export type Pointer = Uint8Array;

/** Negative when `a < b`, zero when equal, positive when `a > b`. */
export function comparePointers(a: Pointer, b: Pointer): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const diff = (a[i] as number) - (b[i] as number);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

export function pointersEqual(a: Pointer | null, b: Pointer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && comparePointers(a, b) === 0;
}

export function pointerToHex(pointer: Pointer | null): string {
  if (pointer === null) return "null";
  return Buffer.from(pointer.buffer, pointer.byteOffset, pointer.byteLength).toString("hex");
}

/** Parses the output of {@link pointerToHex}; throws {@link InvalidArgumentError} on anything else. */
export function pointerFromHex(hex: string): Pointer {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
    throw new InvalidArgumentError(`malformed pointer "${hex}": expected a non-empty, even-length hex string`);
  }
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** A detached copy, so callers can never mutate stored state through a returned pointer. */
export function copyPointer(pointer: Pointer): Pointer {
  return new Uint8Array(pointer);
}

/** Throws {@link InvalidArgumentError} unless `value` is a non-empty Uint8Array. */
export function assertPointer(value: unknown, what: string): asserts value is Pointer {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${what} must be a Uint8Array, got ${describeValue(value)}`);
  }
  if (value.length === 0) {
    throw new InvalidArgumentError(`${what} must not be empty`);
  }
}

/** Like {@link assertPointer} but also accepts `null`. */
export function assertPointerOrNull(value: unknown, what: string): asserts value is Pointer | null {
  if (value !== null) assertPointer(value, what);
}

/** Encodes an unsigned integer as a fixed-width big-endian pointer (8 bytes by default). */
export function pointerFromNumber(value: number | bigint, width = 8): Pointer {
  let n = BigInt(value);
  if (n < 0n) throw new InvalidArgumentError(`pointer number must be non-negative, got ${value}`);
  const out = new Uint8Array(width);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  if (n !== 0n) throw new InvalidArgumentError(`pointer number ${value} does not fit in ${width} bytes`);
  return out;
}

/** Decodes a big-endian pointer back into a bigint. */
export function pointerToBigInt(pointer: Pointer): bigint {
  let n = 0n;
  for (const byte of pointer) n = (n << 8n) | BigInt(byte);
  return n;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return (value as object).constructor?.name ?? "an object";
  return typeof value;
}
