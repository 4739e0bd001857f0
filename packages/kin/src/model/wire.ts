// From the sub-package, not kit: worker threads load this module, and kit would cost each one about 25 MB.
import { type Address, getAddressDecoder, getAddressEncoder } from "@solana/addresses";

/** A compiled instruction of a wire message: indexes into the transaction's account list. */
export interface WireInstruction {
  readonly programIndex: number;
  readonly accounts: readonly number[];
  readonly data: Uint8Array;
}

/** A Solana wire transaction taken apart, keys kept as raw 32-byte slices. */
export interface WireTransaction {
  readonly version: "legacy" | 0;
  readonly signatures: readonly Uint8Array[];
  readonly staticKeys: readonly Uint8Array[];
  readonly instructions: readonly WireInstruction[];
}

/**
 * Parses the wire format (signatures, then a legacy or v0 message) without
 * turning every key into base58, which is most of the cost of reading a block.
 * Throws an Error naming the offset on truncated or unsupported input.
 */
export function parseWireTransaction(bytes: Uint8Array): WireTransaction {
  const reader = new Reader(bytes);
  const signatureCount = reader.shortU16("signature count");
  const signatures: Uint8Array[] = [];
  for (let i = 0; i < signatureCount; i++) signatures.push(reader.bytes(64, "signature"));
  let version: "legacy" | 0 = "legacy";
  if ((reader.peek() & 0x80) !== 0) {
    const v = reader.byte("version") & 0x7f;
    if (v !== 0) throw new Error(`transaction version ${v} is not supported`);
    version = 0;
  }
  reader.bytes(3, "message header");
  const keyCount = reader.shortU16("account key count");
  const staticKeys: Uint8Array[] = [];
  for (let i = 0; i < keyCount; i++) staticKeys.push(reader.bytes(32, "account key"));
  reader.bytes(32, "recent blockhash");
  const instructionCount = reader.shortU16("instruction count");
  const instructions: WireInstruction[] = [];
  for (let i = 0; i < instructionCount; i++) {
    const programIndex = reader.byte("program index");
    const accounts = [...reader.bytes(reader.shortU16("instruction account count"), "instruction accounts")];
    const data = reader.bytes(reader.shortU16("instruction data length"), "instruction data");
    instructions.push({ programIndex, accounts, data });
  }
  if (version === 0) {
    const lookups = reader.shortU16("lookup table count");
    for (let i = 0; i < lookups; i++) {
      reader.bytes(32, "lookup table");
      reader.bytes(reader.shortU16("writable index count"), "writable indexes");
      reader.bytes(reader.shortU16("readonly index count"), "readonly indexes");
    }
  }
  if (!reader.done) throw new Error(`${bytes.length - reader.offset} unexpected bytes after the message`);
  return { version, signatures, staticKeys, instructions };
}

class Reader {
  offset = 0;
  constructor(readonly input: Uint8Array) {}

  get done(): boolean {
    return this.offset === this.input.length;
  }

  peek(): number {
    const value = this.input[this.offset];
    if (value === undefined) throw new Error(`truncated at byte ${this.offset}`);
    return value;
  }

  byte(what: string): number {
    const value = this.input[this.offset];
    if (value === undefined) throw new Error(`truncated at byte ${this.offset} (${what})`);
    this.offset++;
    return value;
  }

  bytes(length: number, what: string): Uint8Array {
    if (this.offset + length > this.input.length) throw new Error(`truncated at byte ${this.offset} (${what})`);
    const out = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** Solana's compact-u16 length prefix. */
  shortU16(what: string): number {
    let value = 0;
    for (let i = 0; i < 3; i++) {
      const byte = this.byte(what);
      value |= (byte & 0x7f) << (7 * i);
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error(`invalid compact-u16 at byte ${this.offset} (${what})`);
  }
}

// Blocks repeat the same addresses (programs, mints, busy accounts): remember conversions.
const CACHE_LIMIT = 20_000;
const toAddress = new Map<string, Address>();
const toBytes = new Map<string, Uint8Array>();
const addressDecoder = getAddressDecoder();
const addressEncoder = getAddressEncoder();

/** The base58 address of a 32-byte key (cached). */
export function addressOf(key: Uint8Array): Address {
  const cacheKey = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
  let address = toAddress.get(cacheKey);
  if (address === undefined) {
    if (toAddress.size >= CACHE_LIMIT) toAddress.clear();
    address = addressDecoder.decode(key);
    toAddress.set(cacheKey, address);
  }
  return address;
}

/** The 32 bytes of a base58 address (a fresh copy; the conversion is cached). */
export function keyOf(address: string): Uint8Array {
  let key = toBytes.get(address);
  if (key === undefined) {
    if (toBytes.size >= CACHE_LIMIT) toBytes.clear();
    key = new Uint8Array(addressEncoder.encode(address as Address));
    toBytes.set(address, key);
  }
  return key.slice();
}
