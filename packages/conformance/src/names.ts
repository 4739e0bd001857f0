import { randomBytes } from "node:crypto";

/** A name no other test (or earlier run against the same server) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

/** Names that would collide under naive key building or query interpolation. */
export const awkwardNameSuffixes = [
  "",
  "/",
  "/child",
  ".dot",
  "$where",
  "{x}",
  ":colon",
  "ünïcødé-名前",
  "a b",
] as const;
