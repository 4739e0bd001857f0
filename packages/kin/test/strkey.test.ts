import { randomBytes } from "node:crypto";
import { StrKey } from "@stellar/stellar-sdk";
import { describe, expect, it } from "vitest";
import { ed25519PublicKeyStrKey } from "../src/model/strkey.js";

describe("ed25519PublicKeyStrKey", () => {
  it("encodes keys exactly as the Stellar SDK does", () => {
    const keys = [
      new Uint8Array(32),
      new Uint8Array(32).fill(0xff),
      ...Array.from({ length: 200 }, () => randomBytes(32)),
    ];
    for (const key of keys) {
      expect(ed25519PublicKeyStrKey(new Uint8Array(key))).toBe(StrKey.encodeEd25519PublicKey(Buffer.from(key)));
    }
  });

  it("refuses a key that is not 32 bytes", () => {
    expect(() => ed25519PublicKeyStrKey(new Uint8Array(31))).toThrow(/32 bytes, got 31/);
  });
});
