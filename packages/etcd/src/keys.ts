import { InvalidArgumentError } from "@tidemark/core";

export const DEFAULT_COMMIT_PREFIX = "tidemark/commits/";
export const DEFAULT_LOCK_PREFIX = "tidemark/locks/";

/**
 * The name as it appears in a key: URI-encoded, so it never contains `/` and
 * two names never map to one key, nor one name's keys fall in another's range.
 */
export function encodeName(name: string, what: string): string {
  try {
    return encodeURIComponent(name);
  } catch (error) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(name)} is not well-formed Unicode (it holds a lone surrogate)`,
      {
        cause: error,
      },
    );
  }
}

/** The end of the key range holding every key that starts with `prefix` (etcd's "prefix + 1"). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  // Only 0xff bytes: every key from the prefix on.
  return Buffer.from([0]);
}

/** How keys appear in messages: as text when they are text. */
export function showKey(key: Buffer | string): string {
  return JSON.stringify(typeof key === "string" ? key : key.toString("utf8"));
}
