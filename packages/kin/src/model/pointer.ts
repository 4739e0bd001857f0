import { InvalidArgumentError, type Pointer, pointerToHex } from "@tidemark/core";
import { KinVersion } from "../gen/model_pb.js";
import { kinVersionName } from "./version.js";

// agora's pointers: Stellar = version byte + big-endian u32 ledger sequence;
// Solana = byte 4 (KIN4) + big-endian u64 slot. Byte order is chain order.
const STELLAR_POINTER_LENGTH = 5;
const SOLANA_POINTER_LENGTH = 9;
const MAX_U32 = 0xffff_ffffn;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/** The pointer of a Stellar ledger, as agora writes it (5 bytes). */
export function stellarPointer(version: KinVersion, ledger: number | bigint): Pointer {
  const sequence = BigInt(ledger);
  if (sequence < 0n || sequence > MAX_U32) {
    throw new InvalidArgumentError(`Stellar ledger sequence must fit in a u32, got ${ledger}`);
  }
  const out = new Uint8Array(STELLAR_POINTER_LENGTH);
  out[0] = version;
  new DataView(out.buffer).setUint32(1, Number(sequence));
  return out;
}

/** The ledger sequence of a Stellar pointer; throws {@link InvalidArgumentError} unless it is a 5-byte pointer of `version`. */
export function ledgerFromPointer(pointer: Pointer, version: KinVersion): number {
  if (!(pointer instanceof Uint8Array) || pointer.length !== STELLAR_POINTER_LENGTH) {
    throw new InvalidArgumentError(
      `invalid ${kinVersionName(version)} pointer ${describe(pointer)}: expected ${STELLAR_POINTER_LENGTH} bytes (version byte + u32 ledger)`,
    );
  }
  if (pointer[0] !== version) {
    throw new InvalidArgumentError(
      `invalid ${kinVersionName(version)} pointer ${pointerToHex(pointer)}: its version byte is ${kinVersionName(pointer[0] as number)}`,
    );
  }
  return new DataView(pointer.buffer, pointer.byteOffset, pointer.byteLength).getUint32(1);
}

/** The pointer of a Solana slot, as agora writes it (9 bytes). */
export function solanaPointer(slot: number | bigint): Pointer {
  const value = BigInt(slot);
  if (value < 0n || value > MAX_U64) throw new InvalidArgumentError(`Solana slot must fit in a u64, got ${slot}`);
  const out = new Uint8Array(SOLANA_POINTER_LENGTH);
  out[0] = KinVersion.KIN4;
  new DataView(out.buffer).setBigUint64(1, value);
  return out;
}

/** The slot of a Solana pointer; throws {@link InvalidArgumentError} unless it is a 9-byte KIN4 pointer. */
export function slotFromPointer(pointer: Pointer): bigint {
  if (!(pointer instanceof Uint8Array) || pointer.length !== SOLANA_POINTER_LENGTH) {
    throw new InvalidArgumentError(
      `invalid KIN4 pointer ${describe(pointer)}: expected ${SOLANA_POINTER_LENGTH} bytes (version byte 4 + u64 slot)`,
    );
  }
  if (pointer[0] !== KinVersion.KIN4) {
    throw new InvalidArgumentError(
      `invalid KIN4 pointer ${pointerToHex(pointer)}: its version byte is ${kinVersionName(pointer[0] as number)}`,
    );
  }
  return new DataView(pointer.buffer, pointer.byteOffset, pointer.byteLength).getBigUint64(1);
}

function describe(pointer: unknown): string {
  if (pointer instanceof Uint8Array) return `${pointerToHex(pointer)} (${pointer.length} bytes)`;
  return typeof pointer;
}
