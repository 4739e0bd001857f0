import { CorruptRecordError, type LeaseRecord, type Pointer } from "@tidemark/core";
import { Binary, type Document, Long } from "mongodb";

/** What the committer keeps per ingestor: `_id` is the ingestor name. */
export interface CommitRecord {
  /** The committed pointer, or null when only a fence was raised so far. */
  readonly latest: Pointer | null;
  /** The highest lock token raised by `fence`, or null. */
  readonly fence: bigint | null;
}

/** What the lock keeps per key (`_id` is the key); the dates beside these fields are for operators only. */
export interface LockRecord extends LeaseRecord {
  /** The fencing token of this acquisition: every lease document has one. */
  readonly token: bigint;
}

/** The token counter document of a lock key: an `_id` no lease document can have, as those are strings. */
export function tokenCounterId(key: string): { tokenOf: string } {
  return { tokenOf: key };
}

export function toBinary(pointer: Pointer): Binary {
  // A copy: the caller may reuse its array while the driver still serialises.
  return new Binary(Uint8Array.from(pointer), Binary.SUBTYPE_DEFAULT);
}

export function toLong(token: bigint): Long {
  return Long.fromBigInt(token);
}

/** Reads a commit document; anything tidemark would not have written is `CorruptRecordError`. */
export function decodeCommitRecord(document: Document | null, where: string): CommitRecord | null {
  if (document === null) return null;
  return {
    latest: decodePointer(document.latest, "latest", where),
    fence: decodeToken(document.fence, "fence", where),
  };
}

/** Reads a lease document; a missing or mistyped field is `CorruptRecordError`. */
export function decodeLockRecord(document: Document | null, where: string): LockRecord | null {
  if (document === null) return null;
  const { owner, version, leaseMs, released } = document;
  if (typeof owner !== "string" || owner.length === 0) throw corrupt(where, "owner", owner, "a non-empty string");
  if (typeof version !== "string" || version.length === 0) {
    throw corrupt(where, "version", version, "a non-empty string");
  }
  if (typeof leaseMs !== "number" || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw corrupt(where, "leaseMs", leaseMs, "a positive number");
  }
  if (typeof released !== "boolean") throw corrupt(where, "released", released, "a boolean");
  const token = decodeToken(document.token, "token", where);
  if (token === null) throw corrupt(where, "token", document.token, "a non-negative integer");
  return { owner, version, leaseMs, token, released };
}

/** Reads a token counter; an absent counter is 0. */
export function decodeCounter(document: Document | null, where: string): bigint {
  return decodeToken(document?.token, "token", where) ?? 0n;
}

function decodePointer(value: unknown, field: string, where: string): Pointer | null {
  if (value === undefined || value === null) return null;
  if (isBsonType(value, "Binary")) {
    const binary = value as Binary;
    const bytes = binary.value();
    if (binary.sub_type === Binary.SUBTYPE_DEFAULT && bytes.length > 0) return Uint8Array.from(bytes);
  }
  throw corrupt(where, field, value, "non-empty BSON Binary (subtype 0)");
}

function decodeToken(value: unknown, field: string, where: string): bigint | null {
  if (value === undefined || value === null) return null;
  let token: bigint | null = null;
  if (typeof value === "bigint") token = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) token = BigInt(value);
  else if (isBsonType(value, "Long")) token = BigInt((value as Long).toString());
  else if (isBsonType(value, "Int32")) token = BigInt((value as { value: number }).value);
  if (token === null || token < 0n) throw corrupt(where, field, value, "a non-negative integer");
  return token;
}

// By `_bsontype`, not instanceof: documents may come from another copy of the bson library.
export function isBsonType(value: unknown, type: string): boolean {
  return typeof value === "object" && value !== null && (value as { _bsontype?: unknown })._bsontype === type;
}

function corrupt(where: string, field: string, value: unknown, expected: string): CorruptRecordError {
  return new CorruptRecordError(`mongodb: ${where} is corrupt: ${field} is ${describe(value)}, expected ${expected}`);
}

/** A stored value's type for a message, never its contents (beyond 40 characters of a string). */
export function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const bsonType = (value as { _bsontype?: unknown })?._bsontype;
  if (typeof bsonType === "string") {
    const subtype = bsonType === "Binary" ? ` subtype ${(value as Binary).sub_type}` : "";
    return `BSON ${bsonType}${subtype}`;
  }
  if (value instanceof Date) return "a date";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `a ${typeof value}`;
}
