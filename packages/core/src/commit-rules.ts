import { InvalidArgumentError, InvalidCommitError } from "./errors.js";
import { assertPointer, assertPointerOrNull, comparePointers, type Pointer, pointerToHex } from "./pointer.js";

/** Throws unless `ingestor` is a usable name. */
export function assertIngestorName(ingestor: unknown): asserts ingestor is string {
  if (typeof ingestor !== "string" || ingestor.length === 0) {
    throw new InvalidArgumentError(`ingestor name must be a non-empty string, got ${JSON.stringify(ingestor)}`);
  }
}

/**
 * The checks every committer makes before sending anything: structural
 * mistakes are `InvalidArgumentError`, a block that does not advance past a
 * non-null parent is `InvalidCommitError`.
 */
export function validateCommit(ingestor: unknown, parent: unknown, block: unknown): void {
  assertIngestorName(ingestor);
  assertPointerOrNull(parent, "parent");
  assertPointer(block, "block");
  if (parent !== null && comparePointers(block, parent) <= 0) {
    throw new InvalidCommitError(
      `commit for "${ingestor}" does not advance: block ${pointerToHex(block)} <= parent ${pointerToHex(parent)}`,
    );
  }
}

/** The checks `Committer.reset` makes before sending anything. */
export function validateReset(ingestor: unknown, expected: unknown, block: unknown): void {
  assertIngestorName(ingestor);
  assertPointerOrNull(expected, "expected");
  assertPointer(block, "block");
}

/** The error a committer raises when the stored pointer is not the parent. */
export function parentMismatch(
  ingestor: string,
  parent: Pointer | null,
  stored: Pointer | null | undefined,
): InvalidCommitError {
  const seen = stored === undefined ? "" : `, stored ${pointerToHex(stored)}`;
  return new InvalidCommitError(
    `commit for "${ingestor}" rejected: parent ${pointerToHex(parent)} is not the stored pointer${seen}`,
  );
}
