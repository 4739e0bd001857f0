/**
 * The few protobuf wire primitives the served pages are read and written
 * with by hand: a reader over a byte range that allocates nothing but views,
 * and writers into a buffer sized beforehand, so a whole page goes into one
 * buffer of its exact size.
 */

export const VARINT = 0;
const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Reads protobuf fields from `bytes[start, end)`; throws an Error on anything malformed. */
export class WireReader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's tag: its number is `tag >>> 3`, its wire type `tag & 7`. Field number 0 is malformed. */
  tag(): number {
    const tag = this.uint32();
    if (tag >>> 3 === 0) throw new Error(`field number 0 at ${this.pos}`);
    return tag;
  }

  /** A varint of at most 32 bits. */
  uint32(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.#byte();
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        if (value > 0xffff_ffff) break;
        return value;
      }
    }
    throw new Error(`varint at ${this.pos} exceeds 32 bits`);
  }

  /** A varint of up to 64 bits, unsigned. */
  uint64(): bigint {
    let low = 0;
    let shift = 0;
    // The first seven bytes (49 bits) fit a number exactly; slots, times and amounts end there.
    for (; shift < 49; shift += 7) {
      const byte = this.#byte();
      low += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return BigInt(low);
    }
    let value = BigInt(low);
    for (let big = 49n; big < 70n; big += 7n) {
      const byte = this.#byte();
      value |= BigInt(byte & 0x7f) << big;
      if (byte < 0x80) return BigInt.asUintN(64, value);
    }
    throw new Error(`varint at ${this.pos} is longer than 10 bytes`);
  }

  /** A length-delimited field's bytes, as a view. */
  delimited(): Uint8Array {
    const start = this.#delimitedStart();
    return this.bytes.subarray(start, this.pos);
  }

  /** A reader of a length-delimited field's bytes, over the same buffer (no view is made). */
  nested(): WireReader {
    const start = this.#delimitedStart();
    return new WireReader(this.bytes, start, this.pos);
  }

  /** Steps over a length-delimited field's length and bytes; returns where they start. */
  #delimitedStart(): number {
    const length = this.uint32();
    const start = this.pos;
    if (start + length > this.end) throw new Error(`field at ${start} runs past its message`);
    this.pos += length;
    return start;
  }

  /** Steps over a field of `wireType`. */
  skip(wireType: number): void {
    if (wireType === VARINT) {
      for (let i = 0; i < 10; i++) if (this.#byte() < 0x80) return;
      throw new Error(`varint at ${this.pos} is longer than 10 bytes`);
    }
    if (wireType === LENGTH_DELIMITED) this.#delimitedStart();
    else if (wireType === FIXED64) this.#advance(8);
    else if (wireType === FIXED32) this.#advance(4);
    else throw new Error(`wire type ${wireType} at ${this.pos} is not supported here`);
  }

  #advance(count: number): void {
    if (this.pos + count > this.end) throw new Error(`field at ${this.pos} runs past its message`);
    this.pos += count;
  }

  #byte(): number {
    if (this.pos >= this.end) throw new Error(`truncated at ${this.pos}`);
    return this.bytes[this.pos++] as number;
  }
}

/** The size of a length-delimited field of `length` bytes (field numbers below 16 take a one-byte tag). */
export function delimitedSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** Writes the tag and length of a length-delimited field whose content follows; returns where the content goes. */
export function writeDelimitedHeader(out: Uint8Array, pos: number, field: number, length: number): number {
  return writeVarint(out, writeVarint(out, pos, (field << 3) | LENGTH_DELIMITED), length);
}

/** Writes a bytes field; returns the end. */
export function writeBytesField(out: Uint8Array, pos: number, field: number, bytes: Uint8Array): number {
  const at = writeDelimitedHeader(out, pos, field, bytes.length);
  out.set(bytes, at);
  return at + bytes.length;
}

/** Writes a varint field; returns the end. */
export function writeVarintField(out: Uint8Array, pos: number, field: number, value: bigint | number): number {
  return writeVarint(out, writeVarint(out, pos, field << 3), value);
}

/** Bytes of a varint; negative values take ten, as int32 and int64 do on the wire. */
export function varintSize(value: bigint | number): number {
  if (typeof value === "number" && value >= 0 && value < 2 ** 31) {
    return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : value < 0x1000_0000 ? 4 : 5;
  }
  let rest = BigInt.asUintN(64, BigInt(value));
  let size = 1;
  while (rest >= 0x80n) {
    rest >>= 7n;
    size++;
  }
  return size;
}

/** Writes a varint (negative values as 64-bit two's complement); returns the end. */
export function writeVarint(out: Uint8Array, pos: number, value: bigint | number): number {
  let at = pos;
  if (typeof value === "number" && value >= 0 && value < 2 ** 31) {
    let rest = value;
    while (rest >= 0x80) {
      out[at++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    out[at++] = rest;
    return at;
  }
  let rest = BigInt.asUintN(64, BigInt(value));
  while (rest >= 0x80n) {
    out[at++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  out[at++] = Number(rest);
  return at;
}
