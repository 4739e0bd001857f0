import { KinVersion } from "../gen/model_pb.js";
import { invalidArgument } from "./request-errors.js";

/** A request cursor turned into the ordering key pages continue from. */
export interface PageStart {
  readonly orderingKey: Uint8Array;
  /**
   * `agora` for a cursor this service (or agora) handed out: the ordering key
   * of an entry. `horizon` for a Horizon paging token from an old SDK: a
   * position only, which may name no entry.
   */
  readonly kind: "agora" | "horizon";
}

// agora's v4 cursors are ordering keys, whose first byte is a Kin version
// (below 10); Horizon's are decimal strings, whose first byte is an ASCII digit.
const HIGHEST_VERSION_BYTE = 9;
const MAX_CURSOR_BYTES = 128;
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;
// agora's own default when a client sends no kin-version header.
const DEFAULT_CALLER_VERSION = KinVersion.KIN3;

/**
 * Reads a GetHistory cursor as agora v0.2.7 does: an ordering key as it is
 * (9 bytes for Kin2/Kin3, 17 for Kin4), or a Horizon paging token mapped to
 * the Stellar ordering key of the caller's Kin version (`kin-version` header;
 * Kin3 when absent, Kin2 for Kin4 callers, as agora cannot know which Horizon
 * the token came from). Where agora logs and ignores a cursor it cannot read,
 * this refuses it with INVALID_ARGUMENT naming the field.
 */
export function pageStart(cursor: { value: Uint8Array } | undefined, headers: Headers): PageStart | undefined {
  if (cursor === undefined) return undefined;
  const value = cursor.value;
  if (value.length === 0) throw invalidArgument("cursor.value", "must not be empty");
  if (value.length > MAX_CURSOR_BYTES) {
    throw invalidArgument("cursor.value", `must be at most ${MAX_CURSOR_BYTES} bytes, got ${value.length}`);
  }
  const first = value[0] as number;
  if (first <= HIGHEST_VERSION_BYTE) {
    const expected = first === KinVersion.KIN4 ? 17 : first === KinVersion.KIN2 || first === KinVersion.KIN3 ? 9 : 0;
    if (expected === 0) throw invalidArgument("cursor.value", `names Kin version ${first}, which has no history`);
    if (value.length !== expected) {
      throw invalidArgument("cursor.value", `a Kin${first} cursor has ${expected} bytes, got ${value.length}`);
    }
    return { orderingKey: new Uint8Array(value), kind: "agora" };
  }
  const text = new TextDecoder().decode(value);
  if (!/^[0-9]+$/.test(text) || BigInt(text) > MAX_UINT64) {
    throw invalidArgument("cursor.value", "is neither a cursor this service returned nor a Horizon paging token");
  }
  const key = new Uint8Array(9);
  key[0] = horizonCursorVersion(headers);
  new DataView(key.buffer).setBigUint64(1, BigInt(text));
  return { orderingKey: key, kind: "horizon" };
}

function horizonCursorVersion(headers: Headers): KinVersion {
  const header = headers.get("kin-version");
  if (header === null || header === "") return DEFAULT_CALLER_VERSION;
  const version = /^[0-9]+$/.test(header) ? Number(header) : Number.NaN;
  if (version === KinVersion.KIN2 || version === KinVersion.KIN3) return version;
  if (version === KinVersion.KIN4) return KinVersion.KIN2;
  throw invalidArgument(
    "kin-version header",
    `must be 2, 3 or 4 to read a Horizon cursor, got "${header.slice(0, 16)}"`,
  );
}
