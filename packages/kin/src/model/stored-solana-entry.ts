import { KinVersion } from "../gen/model_pb.js";
import { LENGTH_DELIMITED, VARINT, WireReader } from "./protobuf-wire.js";

/**
 * A stored Kin4 entry read straight from its protobuf bytes (`Entry.solana`,
 * fields 1-5 and 100) without decoding it: the fields are views into the
 * stored bytes, and the two nested messages a history item needs are read
 * only when it is built ({@link blockTimeOf}, {@link loadedAddressesOf}).
 */
export interface StoredSolanaEntry {
  readonly version: number;
  readonly slot: bigint;
  /** The first signature: the transaction's id (a view). */
  readonly id: Uint8Array;
  /** agora's ordering key: version byte, big-endian slot, the id's first 8 bytes. */
  readonly orderingKey: Uint8Array;
  /** The wire transaction: signatures, then message. */
  readonly transaction: Uint8Array;
  readonly transactionError: Uint8Array;
  /** The block time's Timestamp message, when the entry has one. */
  readonly blockTime: Uint8Array | undefined;
  /** tidemark's metadata message, when the entry has one (entries agora wrote have none). */
  readonly meta: Uint8Array | undefined;
}

// Field numbers of model.proto.
const ENTRY_VERSION = 1;
const ENTRY_STELLAR = 2;
const ENTRY_SOLANA = 3;
const SOLANA_SLOT = 1;
const SOLANA_CONFIRMED = 2;
const SOLANA_TRANSACTION = 3;
const SOLANA_TRANSACTION_ERROR = 4;
const SOLANA_BLOCK_TIME = 5;
const SOLANA_META = 100;
const META_LOADED_WRITABLE = 1;
const META_LOADED_READONLY = 2;
const META_INNER_INSTRUCTIONS = 3;
const META_TOKEN_ACCOUNTS = 4;
// SolanaInnerInstruction: outer_index, program_index (uint32), accounts, data (bytes).
const INNER_INSTRUCTION_FIELDS = new Map([
  [1, VARINT],
  [2, VARINT],
  [3, LENGTH_DELIMITED],
  [4, LENGTH_DELIMITED],
]);
// SolanaTokenAccount: address, mint, owner (bytes).
const TOKEN_ACCOUNT_FIELDS = new Map([
  [1, LENGTH_DELIMITED],
  [2, LENGTH_DELIMITED],
  [3, LENGTH_DELIMITED],
]);

/**
 * The Kin4 entry in `bytes`, or null when the bytes are anything else: a
 * Stellar entry, a field repeated where protobuf would merge or override, a
 * transaction without a signature, or bytes that do not parse. Callers decode
 * those in full, which reads them exactly (or reports them corrupt).
 */
export function readStoredSolanaEntry(bytes: Uint8Array): StoredSolanaEntry | null {
  try {
    const reader = new WireReader(bytes);
    let version: number = KinVersion.UNKNOWN;
    let body: Uint8Array | undefined;
    while (!reader.done) {
      const tag = reader.tag();
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === ENTRY_VERSION && wireType === VARINT) version = Number(BigInt.asIntN(32, reader.uint64()));
      else if (field === ENTRY_SOLANA && wireType === LENGTH_DELIMITED && body === undefined) body = reader.delimited();
      else if (field === ENTRY_STELLAR || field === ENTRY_SOLANA || field === ENTRY_VERSION) return null;
      else reader.skip(wireType);
    }
    return body === undefined ? null : readBody(version, body);
  } catch {
    return null;
  }
}

function readBody(version: number, body: Uint8Array): StoredSolanaEntry | null {
  const reader = new WireReader(body);
  let seen = 0;
  let slot = 0n;
  let transaction: Uint8Array = new Uint8Array(0);
  let transactionError: Uint8Array = new Uint8Array(0);
  let blockTime: Uint8Array | undefined;
  let meta: Uint8Array | undefined;
  while (!reader.done) {
    const tag = reader.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    const known = field <= SOLANA_BLOCK_TIME || field === SOLANA_META;
    if (known) {
      // A repeated singular field is overridden or merged by a full decode: leave it to that.
      const bit = 1 << (field === SOLANA_META ? 0 : field);
      if ((seen & bit) !== 0) return null;
      seen |= bit;
    }
    if (field === SOLANA_SLOT && wireType === VARINT) slot = reader.uint64();
    else if (field === SOLANA_CONFIRMED && wireType === VARINT) reader.skip(wireType);
    else if (field === SOLANA_TRANSACTION && wireType === LENGTH_DELIMITED) transaction = reader.delimited();
    else if (field === SOLANA_TRANSACTION_ERROR && wireType === LENGTH_DELIMITED) transactionError = reader.delimited();
    else if (field === SOLANA_BLOCK_TIME && wireType === LENGTH_DELIMITED) blockTime = reader.delimited();
    else if (field === SOLANA_META && wireType === LENGTH_DELIMITED) meta = reader.delimited();
    else if (known) return null;
    else reader.skip(wireType);
  }
  const id = firstSignature(transaction);
  if (id === null) return null;
  const orderingKey = new Uint8Array(17);
  orderingKey[0] = version;
  new DataView(orderingKey.buffer).setBigUint64(1, slot);
  orderingKey.set(id.subarray(0, 8), 9);
  return { version, slot, id, orderingKey, transaction, transactionError, blockTime, meta };
}

/** The first signature of a wire transaction, or null when it has none (then a full decode reports it). */
function firstSignature(transaction: Uint8Array): Uint8Array | null {
  // A compact-u16 signature count: one byte below 128, as every real transaction has.
  const count = transaction[0];
  if (count === undefined || count < 1 || count > 0x7f || transaction.length < 65) return null;
  return transaction.subarray(1, 65);
}

/** A Timestamp message's seconds and nanos; null when it holds anything else. */
export function blockTimeOf(timestamp: Uint8Array): { seconds: bigint; nanos: number } | null {
  try {
    const reader = new WireReader(timestamp);
    let seconds = 0n;
    let nanos = 0;
    while (!reader.done) {
      const tag = reader.tag();
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 1 && wireType === VARINT) seconds = BigInt.asIntN(64, reader.uint64());
      else if (field === 2 && wireType === VARINT) nanos = Number(BigInt.asIntN(32, reader.uint64()));
      else return null;
    }
    return { seconds, nanos };
  } catch {
    return null;
  }
}

/**
 * The lookup-table addresses the metadata lists, writable then read-only
 * (none without metadata); null unless the whole metadata message is
 * well-formed: every field of the right wire type, its inner instructions and
 * token accounts too, and the addresses 32-byte keys. Only what certainly
 * decodes is served without decoding it.
 */
export function loadedAddressesOf(meta: Uint8Array | undefined): Uint8Array[] | null {
  if (meta === undefined) return [];
  const writable: Uint8Array[] = [];
  const readonly: Uint8Array[] = [];
  try {
    const reader = new WireReader(meta);
    while (!reader.done) {
      const tag = reader.tag();
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field >= META_LOADED_WRITABLE && field <= META_TOKEN_ACCOUNTS && wireType !== LENGTH_DELIMITED) return null;
      if (field === META_LOADED_WRITABLE || field === META_LOADED_READONLY) {
        const key = reader.delimited();
        if (key.length !== 32) return null;
        (field === META_LOADED_WRITABLE ? writable : readonly).push(key);
      } else if (field === META_INNER_INSTRUCTIONS) {
        if (!wellFormed(reader.nested(), INNER_INSTRUCTION_FIELDS)) return null;
      } else if (field === META_TOKEN_ACCOUNTS) {
        if (!wellFormed(reader.nested(), TOKEN_ACCOUNT_FIELDS)) return null;
      } else reader.skip(wireType);
    }
  } catch {
    return null;
  }
  return writable.length === 0 ? readonly : [...writable, ...readonly];
}

/** Whether the message `reader` reads parses, its known fields (number to wire type) with the wire type they must have. */
function wellFormed(reader: WireReader, fields: ReadonlyMap<number, number>): boolean {
  while (!reader.done) {
    const tag = reader.tag();
    const expected = fields.get(tag >>> 3);
    if (expected !== undefined && expected !== (tag & 7)) return false;
    if (expected === VARINT) reader.uint32();
    else reader.skip(tag & 7);
  }
  return true;
}
