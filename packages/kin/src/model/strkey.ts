const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// Stellar's version byte of an ed25519 public key (6 << 3): the strkey then starts with "G".
const ED25519_PUBLIC_KEY = 6 << 3;

/**
 * The Stellar strkey (`G...`) of a 32-byte ed25519 public key: base32 of the
 * version byte, the key and its CRC16-XModem (little-endian). Written here so
 * the Kin4 model, which reports agora's G... accounts, needs no Stellar SDK.
 */
export function ed25519PublicKeyStrKey(key: Uint8Array): string {
  if (key.length !== 32) throw new TypeError(`an ed25519 public key has 32 bytes, got ${key.length}`);
  const payload = new Uint8Array(35);
  payload[0] = ED25519_PUBLIC_KEY;
  payload.set(key, 1);
  const checksum = crc16Xmodem(payload.subarray(0, 33));
  payload[33] = checksum & 0xff;
  payload[34] = checksum >> 8;
  return base32(payload);
}

function crc16Xmodem(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** RFC 4648 base32 without padding (35 bytes are exactly 56 characters). */
function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}
