import { describe, expect, it } from "vitest";
import {
  comparePointers,
  InvalidArgumentError,
  InvalidCommitError,
  pointerFromHex,
  pointerFromNumber,
  pointersEqual,
  pointerToBigInt,
  pointerToHex,
  validateCommit,
} from "../src/index.js";

describe("pointers", () => {
  it("compare as unsigned bytes with a shorter prefix first", () => {
    const ordered = [[0], [0, 0], [1], [1, 0], [1, 0xff], [0x7f], [0x80], [0xff], [0xff, 0]].map((b) =>
      Uint8Array.from(b),
    );
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect(Math.sign(comparePointers(ordered[i] as Uint8Array, ordered[j] as Uint8Array)), `${i} vs ${j}`).toBe(
          Math.sign(i - j),
        );
      }
    }
  });

  it("are equal only with the same bytes and length; null equals only null", () => {
    expect(pointersEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(pointersEqual(Uint8Array.of(1), Uint8Array.of(1, 0))).toBe(false);
    expect(pointersEqual(null, null)).toBe(true);
    expect(pointersEqual(null, Uint8Array.of(0))).toBe(false);
  });

  it("round-trip through hex, and reject malformed hex by name", () => {
    const pointer = Uint8Array.of(0, 0xab, 0xff);
    expect(pointerToHex(pointer)).toBe("00abff");
    expect(pointerFromHex("00abff")).toEqual(pointer);
    expect(pointerToHex(null)).toBe("null");
    for (const bad of ["", "abc", "zz", "0x01"]) {
      expect(() => pointerFromHex(bad)).toThrow(InvalidArgumentError);
      expect(() => pointerFromHex(bad)).toThrow(`malformed pointer "${bad}"`);
    }
  });

  it("encode numbers big-endian so byte order is numeric order", () => {
    expect(pointerFromNumber(258, 4)).toEqual(Uint8Array.of(0, 0, 1, 2));
    expect(pointerToBigInt(pointerFromNumber(2n ** 63n))).toBe(2n ** 63n);
    expect(comparePointers(pointerFromNumber(255), pointerFromNumber(256))).toBeLessThan(0);
    expect(() => pointerFromNumber(256, 1)).toThrow(InvalidArgumentError);
    expect(() => pointerFromNumber(-1)).toThrow(InvalidArgumentError);
  });
});

describe("commit rules", () => {
  it("name the structural mistake", () => {
    expect(() => validateCommit("", null, Uint8Array.of(1))).toThrow(/ingestor name/);
    expect(() => validateCommit("x", null, new Uint8Array())).toThrow(/block must not be empty/);
    expect(() => validateCommit("x", null, "01")).toThrow(/block must be a Uint8Array, got string/);
    expect(() => validateCommit("x", [1], Uint8Array.of(2))).toThrow(/parent must be a Uint8Array, got an array/);
  });

  it("reject a block that does not advance past its parent", () => {
    expect(() => validateCommit("x", Uint8Array.of(2), Uint8Array.of(2))).toThrow(InvalidCommitError);
    expect(() => validateCommit("x", Uint8Array.of(2), Uint8Array.of(1, 9))).toThrow(InvalidCommitError);
    expect(() => validateCommit("x", Uint8Array.of(2), Uint8Array.of(2, 0))).not.toThrow();
    expect(() => validateCommit("x", null, Uint8Array.of(0))).not.toThrow();
  });
});
