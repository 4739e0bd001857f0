import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { CorruptRecordError, type LeaseRecord } from "@tidemark/core";
import { parseGoDuration } from "./go-duration.js";
import { LOCKS_HASH_KEY } from "./tables.js";

/** Attribute names of a cirello.io/dynamolock v1.3.3 record, plus our acquisition counter. */
export const ATTR = {
  key: LOCKS_HASH_KEY,
  ownerName: "ownerName",
  leaseDuration: "leaseDuration",
  recordVersionNumber: "recordVersionNumber",
  data: "data",
  isReleased: "isReleased",
  /** Ours (N): dynamolock copies unknown attributes forward, so Go acquisitions keep it without incrementing. */
  token: "tidemarkToken",
} as const;

/** dynamolock's only released marker; a Go reader treats the attribute's mere presence as "released". */
export const RELEASED = "1";

const KNOWN = new Set<string>(Object.values(ATTR));

/**
 * A lock record as read, whoever wrote it: `owner` is its `ownerName`,
 * `version` its `recordVersionNumber`, `leaseMs` its `leaseDuration` parsed with
 * Go's rules, `token` our counter (absent on records only Go nodes wrote).
 */
export interface LockRecord extends LeaseRecord {
  readonly data: Uint8Array | undefined;
  /** Attributes neither dynamolock nor we define; carried into the next record as dynamolock does. */
  readonly extra: Readonly<Record<string, AttributeValue>>;
}

/**
 * Reads a record the way dynamolock does, but refuses (instead of crashing or
 * guessing) what a Go reader could not handle either: a missing owner or
 * version, or a lease that `time.ParseDuration` rejects.
 */
export function parseLockRecord(
  item: Record<string, AttributeValue> | undefined,
  table: string,
  key: string,
): LockRecord | null {
  if (item === undefined) return null;
  const where = `dynamodb: lock record "${key}" in table "${table}"`;
  const string = (name: string): string => {
    const value = item[name]?.S;
    if (typeof value !== "string") throw new CorruptRecordError(`${where} has no string attribute "${name}"`);
    return value;
  };
  const owner = string(ATTR.ownerName);
  const version = string(ATTR.recordVersionNumber);
  const leaseText = string(ATTR.leaseDuration);
  let leaseMs: number;
  try {
    leaseMs = Math.max(0, parseGoDuration(leaseText));
  } catch (error) {
    throw new CorruptRecordError(
      `${where} has a "leaseDuration" that is not a Go duration: ${JSON.stringify(leaseText)}`,
      {
        cause: error,
      },
    );
  }
  let token: bigint | null = null;
  const tokenValue = item[ATTR.token];
  if (tokenValue !== undefined) {
    if (typeof tokenValue.N !== "string" || !/^\d+$/.test(tokenValue.N)) {
      throw new CorruptRecordError(`${where} has a "${ATTR.token}" that is not a non-negative integer (N)`);
    }
    token = BigInt(tokenValue.N);
  }
  const extra: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(item)) if (!KNOWN.has(name)) extra[name] = value;
  return {
    owner,
    version,
    leaseMs,
    released: item[ATTR.isReleased] !== undefined,
    token,
    data: item[ATTR.data]?.B,
    extra,
  };
}
